-- async-tools migration 0012: a change notice says what changed and whose job it is, as JSON:
-- {"id": job, "what": "created" | "settled" | "question" | "progress", "principal": "" for no one's}. A replica
-- that only cares whether its running jobs settled (the check for cancels) skips a creation, a question or a
-- progress; a session that follows one principal's jobs skips another's without reading the job. The triggers of
-- migration 0008 stay: only what they call changes. The principal is left out when it is not known (a progress
-- row written before its job's record) or would make the notice too large for NOTIFY (8000 bytes); a notice
-- that would still be too large is empty (any job may have changed).
CREATE OR REPLACE FUNCTION async_tools.notify_job_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed_job text;
  kind text;
  whose text;
  payload text;
BEGIN
  IF TG_TABLE_NAME = 'jobs' THEN
    changed_job := NEW.id;
    kind := 'progress';
    whose := NEW.principal;
  ELSIF NEW.origin_id IS NULL OR NEW.origin_id = NEW.id THEN
    changed_job := NEW.id;
    kind := CASE WHEN NEW.state = 'pending' THEN 'created' ELSE 'settled' END;
    whose := COALESCE(NEW.tags->>'async-tools:principal', '');
  ELSE
    -- A question: whose it is, is its job's (one read of the job's promise by its key).
    changed_job := NEW.origin_id;
    kind := 'question';
    SELECT COALESCE(p.tags->>'async-tools:principal', '') INTO whose FROM resonate.promises p
      WHERE p.id = changed_job;
  END IF;
  payload := json_build_object('id', changed_job, 'what', kind, 'principal', whose)::text;
  IF whose IS NULL OR octet_length(payload) >= 8000 THEN
    payload := json_build_object('id', changed_job, 'what', kind)::text;
  END IF;
  IF octet_length(payload) >= 8000 THEN
    payload := '';
  END IF;
  PERFORM pg_notify('async_tools_changes', payload);
  RETURN NULL;
END $$;
