-- async-tools migration 0008: the store's change feed. A job's own promise or one of its questions (tagged
-- async-tools:question) created or settled, or its progress stored, notifies the job's ID on the channel
-- async_tools_changes; every replica LISTENs there and wakes its readers of jobs (an await, a
-- subscriptions/listen stream, the check for cancels) instead of polling. Postgres delivers one notice per
-- payload per transaction, and the WHEN clauses keep steps and other promises from calling anything.
CREATE OR REPLACE FUNCTION async_tools.notify_job_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'jobs' THEN
    PERFORM pg_notify('async_tools_changes', NEW.id);
  ELSE
    PERFORM pg_notify('async_tools_changes', COALESCE(NEW.origin_id, NEW.id));
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER async_tools_job_created
  AFTER INSERT ON resonate.promises FOR EACH ROW
  WHEN (NEW.origin_id IS NULL OR NEW.origin_id = NEW.id OR NEW.tags ? 'async-tools:question')
  EXECUTE FUNCTION async_tools.notify_job_change();

CREATE OR REPLACE TRIGGER async_tools_job_settled
  AFTER UPDATE OF state ON resonate.promises FOR EACH ROW
  WHEN (OLD.state IS DISTINCT FROM NEW.state
        AND (NEW.origin_id IS NULL OR NEW.origin_id = NEW.id OR NEW.tags ? 'async-tools:question'))
  EXECUTE FUNCTION async_tools.notify_job_change();

CREATE OR REPLACE TRIGGER async_tools_job_progress
  AFTER INSERT OR UPDATE OF progress, message, progress_at ON async_tools.jobs FOR EACH ROW
  WHEN (NEW.progress_at IS NOT NULL)
  EXECUTE FUNCTION async_tools.notify_job_change();
