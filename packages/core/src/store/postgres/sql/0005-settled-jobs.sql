-- async-tools migration 0005: which of the jobs a replica runs were settled elsewhere (a cancel through another
-- replica, the CLI or the dashboard), asked once for all of them every half second, so the replica stops their
-- work. One read with the owner's rights: worker roles may not read resonate.promises themselves.
CREATE OR REPLACE FUNCTION async_tools.settled_jobs(p_ids text[])
  RETURNS TABLE (id text, state text) LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = async_tools, resonate, pg_temp AS $$
  SELECT p.id, p.state FROM resonate.promises p WHERE p.id = ANY (p_ids) AND p.state <> 'pending';
$$;

REVOKE EXECUTE ON FUNCTION async_tools.settled_jobs(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION async_tools.settled_jobs(text[]) TO resonate_worker;
