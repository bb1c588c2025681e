-- async-tools migration 0006: a tool's `concurrency` holds across every replica of the store. A job takes a row
-- here before it runs (async_tools.slot_claim): it runs when its tool has a free slot and no job started before
-- it is still waiting, else it waits and learns its place. Rows belong to a replica: those of a replica no
-- longer present (async_tools.replicas, migration 0003) are removed at the next claim, so a replica that dies
-- frees its slots as soon as it is found dead; one that closes frees them at once (replica_gone). The table is
-- UNLOGGED: a claim or a release writes no WAL, so it commits without a disk sync; if Postgres itself crashes
-- the table comes back empty, and the jobs that were running are not counted until they finish.
CREATE UNLOGGED TABLE IF NOT EXISTS async_tools.slots (
  job_id text PRIMARY KEY,
  tool text NOT NULL,
  pid text NOT NULL,
  -- Arrival order: a job taken over by another replica keeps its place.
  ticket bigserial NOT NULL,
  running boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS slots_tool_ticket ON async_tools.slots (tool, ticket);

-- 0 when p_job may run now (it holds a slot), else its 1-based place among the jobs of p_tool waiting.
CREATE OR REPLACE FUNCTION async_tools.slot_claim(p_tool text, p_job text, p_pid text, p_limit int)
  RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = async_tools, pg_temp AS $$
DECLARE
  mine bigint;
  holding boolean;
  busy int;
  place int;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('async_tools.slots'), hashtext(p_tool));
  DELETE FROM async_tools.slots s WHERE s.tool = p_tool
    AND NOT EXISTS (SELECT 1 FROM async_tools.replicas r WHERE r.pid = s.pid);
  INSERT INTO async_tools.slots (job_id, tool, pid) VALUES (p_job, p_tool, p_pid)
    ON CONFLICT (job_id) DO UPDATE SET pid = excluded.pid
    RETURNING ticket, running INTO mine, holding;
  IF holding THEN
    RETURN 0;
  END IF;
  SELECT count(*) FILTER (WHERE running), count(*) FILTER (WHERE NOT running AND ticket <= mine)
    INTO busy, place FROM async_tools.slots WHERE tool = p_tool;
  IF place <= p_limit - busy THEN
    UPDATE async_tools.slots SET running = true WHERE job_id = p_job;
    RETURN 0;
  END IF;
  RETURN place;
END $$;

-- Frees the slot (or the place in line) of p_job, if p_pid still holds it.
CREATE OR REPLACE FUNCTION async_tools.slot_release(p_job text, p_pid text)
  RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = async_tools, pg_temp AS $$
  DELETE FROM async_tools.slots WHERE job_id = p_job AND pid = p_pid;
$$;

-- The 1-based place of p_job among the waiting jobs of its tool, NULL when it is not waiting.
CREATE OR REPLACE FUNCTION async_tools.slot_place(p_job text)
  RETURNS int LANGUAGE sql STABLE SECURITY DEFINER SET search_path = async_tools, pg_temp AS $$
  SELECT count(*)::int FROM async_tools.slots w, async_tools.slots me
  WHERE me.job_id = p_job AND NOT me.running AND w.tool = me.tool AND NOT w.running AND w.ticket <= me.ticket
  HAVING count(*) > 0;
$$;

-- A replica that closes frees its slots with its tasks.
CREATE OR REPLACE FUNCTION async_tools.replica_gone(p_pid text)
  RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = async_tools, resonate, pg_temp AS $$
DECLARE
  now bigint := (extract(epoch from clock_timestamp()) * 1000)::bigint;
BEGIN
  DELETE FROM async_tools.replicas WHERE pid = p_pid;
  DELETE FROM async_tools.slots WHERE pid = p_pid;
  UPDATE resonate.tasks SET timeout_at = now WHERE state = 'acquired' AND pid = p_pid AND timeout_at > now;
END $$;

REVOKE EXECUTE ON FUNCTION async_tools.slot_claim(text, text, text, int), async_tools.slot_release(text, text),
  async_tools.slot_place(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION async_tools.slot_claim(text, text, text, int), async_tools.slot_release(text, text),
  async_tools.slot_place(text) TO resonate_worker;
