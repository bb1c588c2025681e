-- async-tools migration 0001: every PostgresNetwork drain calls resonate.process_timeouts(), but resonate.sql
-- grants it to no one, so a worker running as the least-privilege role resonate_worker never dequeues a job
-- (the call fails and the drain stops there). Run it with the owner's rights, like resonate_rpc, and let the
-- worker role call it.
ALTER FUNCTION resonate.process_timeouts() SECURITY DEFINER;
GRANT EXECUTE ON FUNCTION resonate.process_timeouts() TO resonate_worker;
