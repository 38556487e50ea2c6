DROP TABLE media_refs;
DROP TABLE media;
