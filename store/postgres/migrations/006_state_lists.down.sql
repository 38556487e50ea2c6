DROP INDEX states_list_updated;
DROP INDEX states_list_created;
