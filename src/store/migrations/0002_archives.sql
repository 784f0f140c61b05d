
    CREATE TABLE archives (
        path BLOB PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        seen_at TEXT NOT NULL
    );
    