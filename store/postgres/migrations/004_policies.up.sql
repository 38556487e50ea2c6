-- Authorization rules (Casbin's ptype, v0..v5) and a version every change
-- bumps, which hosts poll to reload. Policy changes are rare: the one
-- version row serialising them costs nothing on the command path.
CREATE TABLE policies (
    ptype text NOT NULL,
    v0 text NOT NULL DEFAULT '', v1 text NOT NULL DEFAULT '', v2 text NOT NULL DEFAULT '',
    v3 text NOT NULL DEFAULT '', v4 text NOT NULL DEFAULT '', v5 text NOT NULL DEFAULT '',
    PRIMARY KEY (ptype, v0, v1, v2, v3, v4, v5)
);
CREATE TABLE policy_version (
    one     integer PRIMARY KEY CHECK (one = 1),
    version bigint  NOT NULL
);
INSERT INTO policy_version (one, version) VALUES (1, 0);
