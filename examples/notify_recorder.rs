//! A minimal `org.freedesktop.Notifications` server that appends every notification it receives
//! as one JSON line (`app`, `summary`, `body`, `image_path`) to the file named by its first
//! argument.
//!
//! The systemd test (`tests/systemd_unit.rs`) runs it on a real user's session bus inside a
//! booted Debian container, where no desktop notification daemon can run without a display.
//! Built from this crate with the `zbus` dev-dependency: `cargo build --example notify_recorder`.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;

struct Recorder {
    out: PathBuf,
    count: u32,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Recorder {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        hints: HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> zbus::fdo::Result<u32> {
        let image = hints
            .get("image-path")
            .and_then(|v| v.try_clone().ok())
            .and_then(|v| String::try_from(v).ok());
        let line = serde_json::json!({
            "app": app_name, "summary": summary, "body": body, "image_path": image
        });
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.out)
            .and_then(|mut f| writeln!(f, "{line}"))
            .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))?;
        self.count = self.count.saturating_add(1);
        Ok(self.count)
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "notify-recorder".into(),
            "recoverd tests".into(),
            "1.0".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("usage: notify_recorder FILE")?;
    let _conn = zbus::connection::Builder::session()
        .name("org.freedesktop.Notifications")
        .serve_at("/org/freedesktop/Notifications", Recorder { out, count: 0 })
        .build()
        .await?;
    eprintln!("serving org.freedesktop.Notifications");
    std::future::pending::<()>().await;
    Ok(())
}
