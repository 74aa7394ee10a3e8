extension SchemaMigrations {
    /// `medic prune --store`: a run's records may be deleted, but only inside a transaction that
    /// declared itself a prune (`SET LOCAL medic.pruning = 'on'`) and only while the run's lease
    /// is not held; every other delete, update or truncate is refused as before. Indexes for the
    /// prune's scans: published outbox events by when they were published, group leads by run.
    static let pruning = Migration(version: 11, name: "pruning", statements: [
        """
        CREATE OR REPLACE FUNCTION medic_run_record_check() RETURNS trigger LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND current_setting('medic.pruning', true) = 'on' THEN
                IF EXISTS (SELECT 1 FROM medic_leases WHERE name = 'run:' || OLD.run_id AND expires_at > clock_timestamp()) THEN
                    RAISE EXCEPTION 'run % is leased: its records are not pruned', OLD.run_id USING ERRCODE = 'MD004';
                END IF;
                RETURN OLD;
            END IF;
            IF TG_OP <> 'INSERT' THEN
                RAISE EXCEPTION 'run records are append-only (run %, seq %)', OLD.run_id, OLD.seq
                    USING ERRCODE = 'MD003';
            END IF;
            PERFORM 1 FROM medic_leases WHERE name = NEW.lease AND token = NEW.token AND expires_at > clock_timestamp() FOR SHARE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'fencing token % for lease % is stale or expired', NEW.token, NEW.lease
                    USING ERRCODE = 'MD001', HINT = 'the lease expired or another Medic holds it now: this one stops writing';
            END IF;
            IF NEW.seq <> (SELECT coalesce(max(seq), 0) + 1 FROM medic_run_records WHERE run_id = NEW.run_id) THEN
                RAISE EXCEPTION 'run % record % is out of order', NEW.run_id, NEW.seq USING ERRCODE = 'MD002';
            END IF;
            RETURN NEW;
        END
        $$
        """,
        "CREATE INDEX medic_outbox_published ON medic_outbox (dispatched_at) WHERE dispatched_at IS NOT NULL",
        "CREATE INDEX medic_group_leads_run ON medic_group_leads (run_id)",
    ])
}
