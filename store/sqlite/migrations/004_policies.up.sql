-- Authorization rules (Casbin's ptype, v0..v5) and a version every change
-- bumps, which hosts poll to reload.
CREATE TABLE policies (
    ptype TEXT NOT NULL,
    v0 TEXT NOT NULL DEFAULT '', v1 TEXT NOT NULL DEFAULT '', v2 TEXT NOT NULL DEFAULT '',
    v3 TEXT NOT NULL DEFAULT '', v4 TEXT NOT NULL DEFAULT '', v5 TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (ptype, v0, v1, v2, v3, v4, v5)
) WITHOUT ROWID;
CREATE TABLE policy_version (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    version INTEGER NOT NULL
);
INSERT INTO policy_version (one, version) VALUES (1, 0);
