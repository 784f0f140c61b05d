
    ALTER TABLE activities ADD COLUMN race_mark INTEGER;
    CREATE TABLE forgotten (sha256 TEXT PRIMARY KEY, forgotten_at TEXT NOT NULL);
    