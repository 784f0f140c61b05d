
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path BLOB NOT NULL UNIQUE,
        display TEXT NOT NULL,
        sha256 TEXT,
        size INTEGER,
        mtime_ns INTEGER,
        status TEXT NOT NULL CHECK (status IN ('imported','duplicate','skipped','failed','pending')),
        reason TEXT,
        activity_id INTEGER REFERENCES activities(id),
        duplicate_of INTEGER REFERENCES activities(id),
        seen_at TEXT NOT NULL
    );
    CREATE INDEX files_sha ON files(sha256);
    CREATE INDEX files_status ON files(status);
    CREATE TABLE activities (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        source_path TEXT NOT NULL,
        format TEXT NOT NULL,
        sport TEXT NOT NULL,
        sub_sport TEXT,
        name TEXT,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        utc_offset_s INTEGER,
        elapsed_s REAL NOT NULL,
        moving_s REAL,
        distance_m REAL,
        avg_hr REAL,
        max_hr REAL,
        avg_temperature_c REAL,
        device_manufacturer TEXT,
        device_product TEXT,
        device_serial INTEGER,
        time_created_ms INTEGER,
        watch_max_hr INTEGER,
        watch_threshold_hr INTEGER,
        watch_resting_hr INTEGER,
        watch_recovery_min INTEGER,
        watch_training_effect REAL,
        marked_race INTEGER NOT NULL DEFAULT 0,
        legs TEXT NOT NULL DEFAULT '[]',
        warnings TEXT NOT NULL DEFAULT '[]',
        hr_samples INTEGER NOT NULL,
        hr_stream BLOB NOT NULL,
        peak_10s_hr REAL,
        imported_at TEXT NOT NULL
    );
    CREATE INDEX activities_start ON activities(start_ms);
    CREATE INDEX activities_identity ON activities(device_serial, time_created_ms);
    CREATE TABLE assessments (
        activity_id INTEGER PRIMARY KEY REFERENCES activities(id) ON DELETE CASCADE,
        model_version INTEGER NOT NULL,
        settings_key TEXT NOT NULL,
        class TEXT NOT NULL,
        hrss REAL,
        ready_at_ms INTEGER NOT NULL,
        local_day TEXT NOT NULL,
        json TEXT NOT NULL
    );
    CREATE TABLE plan_items (
        activity_id INTEGER NOT NULL REFERENCES activities(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        tactic TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        text TEXT NOT NULL,
        why TEXT NOT NULL,
        PRIMARY KEY (activity_id, seq)
    );
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    