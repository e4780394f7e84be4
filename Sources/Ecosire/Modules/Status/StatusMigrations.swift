/// Component status history: one sample per component per minute, and incidents.
enum StatusMigrations {
    static let all: [Migration] = [
        .same(
            "status/001-samples-and-incidents",
            [
                // `minute` is Unix time in minutes; `severity` is 0 operational, 1 degraded, 2 outage.
                // Instances sharing the database write the same rows and keep the worst severity. The
                // component `overall` is the worst of the others in that minute.
                """
                CREATE TABLE status_samples (
                    component TEXT NOT NULL,
                    minute BIGINT NOT NULL,
                    severity INTEGER NOT NULL,
                    checked_at BIGINT NOT NULL,
                    PRIMARY KEY (component, minute)
                )
                """,
                "CREATE INDEX status_samples_minute ON status_samples (minute)",
                """
                CREATE TABLE status_incidents (
                    id TEXT PRIMARY KEY,
                    component TEXT NOT NULL,
                    severity INTEGER NOT NULL,
                    summary TEXT NOT NULL,
                    started_at BIGINT NOT NULL,
                    resolved_at BIGINT,
                    updated_at BIGINT NOT NULL
                )
                """,
                // At most one open incident per component, and one per start time, so instances
                // that notice the same thing at once record it once.
                "CREATE UNIQUE INDEX status_incidents_open ON status_incidents (component) WHERE resolved_at IS NULL",
                "CREATE UNIQUE INDEX status_incidents_start ON status_incidents (component, started_at)",
                "CREATE INDEX status_incidents_started ON status_incidents (started_at)",
            ]
        )
    ]
}
