
    -- The night's signals (MODEL.md section 7), from wellness files and the runner.
    -- Raw samples are kept (one row per UTC second, repeats ignored) so that a night split over
    -- many small files is judged whole; each local day's figures are recomputed only for the
    -- nights a file touched.

    -- Monitoring heart rate (FIT message 55, timestamp_16 resolved), with the local offset the
    -- watch gave (message 103) or the runner's zone's offset where it gave none.
    CREATE TABLE monitoring_hr (
        ts INTEGER PRIMARY KEY,          -- UTC, seconds since 1970
        bpm INTEGER NOT NULL,
        utc_offset_s INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- The watch's own current_day_resting_heart_rate (message 211 field 1).
    CREATE TABLE watch_rhr (
        ts INTEGER PRIMARY KEY,
        bpm INTEGER NOT NULL,
        utc_offset_s INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- One row per local day: the signals of the night before that day's morning, and the runner's
    -- answer. `rhr_source` is 'monitoring' or 'watch'; `hrv_source` 'hrv_status' or 'hrv_values'.
    CREATE TABLE days (
        day TEXT PRIMARY KEY,            -- local YYYY-MM-DD
        rhr INTEGER,
        rhr_source TEXT CHECK (rhr_source IN ('monitoring','watch')),
        rhr_monitoring REAL,             -- lowest 30-min mean of message 55, when the night spans 3 h
        rhr_watch INTEGER,               -- message 211 field 1, last stamped on the day after 04:00
        hrv_rmssd_ms REAL,
        hrv_source TEXT CHECK (hrv_source IN ('hrv_status','hrv_values')),
        feel INTEGER CHECK (feel BETWEEN 1 AND 5),
        feel_at TEXT,                    -- when the runner answered (RFC 3339)
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID;

    -- The morning check of each day inside an activity's open recovery window.
    CREATE TABLE mornings (
        activity_id INTEGER NOT NULL REFERENCES activities(id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('recovered','not_recovered','unknown')),
        flags TEXT NOT NULL DEFAULT '[]',  -- JSON array: rhr_high, hrv_low, feel_low
        rhr_mean REAL, rhr_sd REAL, ln_rmssd_mean REAL, ln_rmssd_sd REAL,
        ready_before_ms INTEGER NOT NULL,   -- ready before this morning's verdict
        ready_after_ms INTEGER NOT NULL,    -- ready after it (later only when not recovered)
        PRIMARY KEY (activity_id, day)
    ) WITHOUT ROWID;
    CREATE INDEX mornings_day ON mornings(day);

    -- At most one morning notification per local day.
    CREATE TABLE morning_notices (
        day TEXT PRIMARY KEY,
        activity_id INTEGER,
        sent_at TEXT NOT NULL,
        notification_id INTEGER
    ) WITHOUT ROWID;

    -- A wellness file is imported with the local days it added data to (JSON array).
    ALTER TABLE files ADD COLUMN days TEXT;
