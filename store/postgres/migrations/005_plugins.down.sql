DROP TABLE plugin_registry_version;
DROP TABLE plugin_audit;
DROP TABLE plugin_versions;
DROP TABLE plugins;
