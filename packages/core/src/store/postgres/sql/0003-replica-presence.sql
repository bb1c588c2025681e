-- async-tools migration 0003: replicas say they are alive, so a dead one's tasks are taken over in seconds
-- rather than when their lease runs out. Every replica calls async_tools.replica_alive() once a second: it
-- stamps the replica's row and expires the acquired tasks of every replica not seen for p_stale_ms (their
-- rows are removed), so the next process_timeouts() hands those tasks to the survivors. A replica that closes
-- calls async_tools.replica_gone(), which does the same for itself at once. Times are epoch milliseconds on
-- the database's clock, the one time authority of every replica.
CREATE TABLE IF NOT EXISTS async_tools.replicas (
  pid text PRIMARY KEY,
  group_name text NOT NULL,
  seen_at bigint NOT NULL
);

CREATE OR REPLACE FUNCTION async_tools.replica_alive(p_pid text, p_group text, p_stale_ms bigint)
  RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = async_tools, resonate, pg_temp AS $$
DECLARE
  now bigint := (extract(epoch from clock_timestamp()) * 1000)::bigint;
  expired int;
BEGIN
  INSERT INTO async_tools.replicas (pid, group_name, seen_at) VALUES (p_pid, p_group, now)
    ON CONFLICT (pid) DO UPDATE SET seen_at = excluded.seen_at, group_name = excluded.group_name;
  WITH dead AS (
    DELETE FROM async_tools.replicas WHERE seen_at < now - p_stale_ms RETURNING pid)
  UPDATE resonate.tasks SET timeout_at = now
    WHERE state = 'acquired' AND pid IN (SELECT pid FROM dead) AND timeout_at > now;
  GET DIAGNOSTICS expired = ROW_COUNT;
  RETURN expired;
END $$;

CREATE OR REPLACE FUNCTION async_tools.replica_gone(p_pid text)
  RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = async_tools, resonate, pg_temp AS $$
DECLARE
  now bigint := (extract(epoch from clock_timestamp()) * 1000)::bigint;
BEGIN
  DELETE FROM async_tools.replicas WHERE pid = p_pid;
  UPDATE resonate.tasks SET timeout_at = now WHERE state = 'acquired' AND pid = p_pid AND timeout_at > now;
END $$;

REVOKE EXECUTE ON FUNCTION async_tools.replica_alive(text, text, bigint), async_tools.replica_gone(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION async_tools.replica_alive(text, text, bigint), async_tools.replica_gone(text)
  TO resonate_worker;
