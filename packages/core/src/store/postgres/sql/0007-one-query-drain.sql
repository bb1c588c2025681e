-- async-tools migration 0007: fewer round trips. A replica's drain in one round trip. The SDK's PostgresNetwork makes four per
-- drain (process_timeouts, two dequeue_execute, one dequeue_unblock); async_tools.drain() fires due timers and
-- takes this replica's messages in one call, so a message a timer produced is delivered in the same drain.
-- It runs with the owner's rights, like the functions it calls, and commits without waiting for the disk: a
-- drain lost to a crash of Postgres only hands its messages out again, which the protocol allows (a second
-- acquire of a task is refused).
CREATE OR REPLACE FUNCTION async_tools.drain(p_anycast text, p_unicast text, p_limit int)
  RETURNS TABLE (kind text, task_id text, version int, promise jsonb)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = resonate, pg_temp AS $$
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM resonate.process_timeouts();
  RETURN QUERY SELECT 'execute'::text, d.task_id, d.version, NULL::jsonb
    FROM resonate.dequeue_execute(p_anycast, p_limit) d;
  RETURN QUERY SELECT 'execute'::text, d.task_id, d.version, NULL::jsonb
    FROM resonate.dequeue_execute(p_unicast, p_limit) d;
  RETURN QUERY SELECT 'unblock'::text, NULL::text, NULL::int, d.promise
    FROM resonate.dequeue_unblock(p_unicast, p_limit) d;
END $$;

-- Several requests of one replica in one round trip and one commit (what its jobs sent in one turn of its event
-- loop), in order. Each runs in a subtransaction of its own: a request that fails answers {"error": message}
-- (the replica sends it again alone) and leaves the others' effects in place.
CREATE OR REPLACE FUNCTION async_tools.rpc_batch(p_requests jsonb[])
  RETURNS jsonb[] LANGUAGE plpgsql SECURITY DEFINER SET search_path = resonate, pg_temp AS $$
DECLARE
  request jsonb;
  answers jsonb[] := '{}';
BEGIN
  FOREACH request IN ARRAY p_requests LOOP
    BEGIN
      answers := answers || resonate.resonate_rpc(request);
    EXCEPTION WHEN OTHERS THEN
      answers := answers || jsonb_build_object('error', SQLERRM);
    END;
  END LOOP;
  RETURN answers;
END $$;

REVOKE EXECUTE ON FUNCTION async_tools.drain(text, text, int), async_tools.rpc_batch(jsonb[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION async_tools.drain(text, text, int), async_tools.rpc_batch(jsonb[]) TO resonate_worker;
