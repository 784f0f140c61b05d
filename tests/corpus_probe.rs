use recoverd::ingest::{self, Parsed};
use std::path::PathBuf;

#[test]
fn probe() {
    let dir = PathBuf::from(std::env::var("RECOVERD_CORPUS").unwrap_or("../shared/corpus".into()));
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    for line in manifest.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        let bytes = std::fs::read(dir.join(c[0])).unwrap();
        let t = std::time::Instant::now();
        let r = ingest::read_bytes(&bytes);
        let ms = t.elapsed().as_millis();
        match r {
            Ok(Parsed::Activity(a)) => println!("{:70} OK {} {:?} el={:.0}/{} dist={:?}/{} hr={:?}/{} max={:?}/{} n={} off={:?} w={:?} {}ms", c[0], a.sport, a.sub_sport, a.elapsed_s, c[13], a.distance_m.map(|d| d.round()), c[14], a.avg_hr.map(|x| (x*10.0).round()/10.0), c[8], a.max_hr, c[9], a.hr.len(), a.utc_offset_s, a.warnings, ms),
            Ok(Parsed::Skipped(s)) => println!("{:70} SKIP {s}", c[0]),
            Err(e) => println!("{:70} ERR {e}", c[0]),
        }
    }
}
