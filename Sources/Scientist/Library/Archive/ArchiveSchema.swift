/// The archive's tables (PRAGMA user_version 5; version 2 added experiments and experiment_runs, version 3
/// software_probes, version 4 papers, version 5 reviews, the calibration cache, the replies of model calls and launch plans). Every
/// statement is `IF NOT EXISTS`, so opening an older archive adds what it lacks.
enum ArchiveSchema {
    static let version: Int64 = 5

    static let create = """
    CREATE TABLE IF NOT EXISTS launches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        command TEXT NOT NULL,
        model TEXT NOT NULL,
        budget_usd REAL,
        budget_tokens INTEGER,
        started_at REAL NOT NULL,
        finished_at REAL,
        status TEXT NOT NULL DEFAULT 'running',
        message TEXT
    );
    CREATE TABLE IF NOT EXISTS ideas (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        template TEXT NOT NULL,
        name TEXT NOT NULL,
        title TEXT NOT NULL,
        experiment TEXT NOT NULL,
        interestingness INTEGER NOT NULL,
        feasibility INTEGER NOT NULL,
        novelty INTEGER NOT NULL,
        source TEXT NOT NULL,
        launch_id INTEGER REFERENCES launches(id),
        reflections INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        novelty_decision TEXT,
        UNIQUE (template, name)
    );
    CREATE TABLE IF NOT EXISTS llm_calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        launch_id INTEGER REFERENCES launches(id),
        stage TEXT NOT NULL,
        idea_id INTEGER REFERENCES ideas(id),
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_usd REAL,
        usage_estimated INTEGER NOT NULL DEFAULT 0,
        started_at REAL NOT NULL,
        seconds REAL NOT NULL,
        outcome TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS llm_calls_idea ON llm_calls(idea_id);
    CREATE INDEX IF NOT EXISTS llm_calls_launch ON llm_calls(launch_id);
    CREATE TABLE IF NOT EXISTS novelty_checks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        idea_id INTEGER NOT NULL REFERENCES ideas(id),
        launch_id INTEGER REFERENCES launches(id),
        engine TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        rounds INTEGER NOT NULL DEFAULT 0,
        decision TEXT,
        reasons TEXT
    );
    CREATE TABLE IF NOT EXISTS novelty_rounds (
        check_id INTEGER NOT NULL REFERENCES novelty_checks(id),
        round INTEGER NOT NULL,
        thought TEXT NOT NULL,
        query TEXT,
        PRIMARY KEY (check_id, round)
    );
    CREATE TABLE IF NOT EXISTS novelty_papers (
        check_id INTEGER NOT NULL REFERENCES novelty_checks(id),
        round INTEGER NOT NULL,
        rank INTEGER NOT NULL,
        paper_id TEXT,
        title TEXT NOT NULL,
        authors TEXT NOT NULL,
        venue TEXT,
        year INTEGER,
        abstract TEXT,
        citation_count INTEGER,
        bibtex TEXT,
        PRIMARY KEY (check_id, round, rank)
    );
    CREATE TABLE IF NOT EXISTS literature_cache (
        engine TEXT NOT NULL,
        query TEXT NOT NULL,
        result_limit INTEGER NOT NULL,
        fetched_at REAL NOT NULL,
        total INTEGER,
        papers TEXT NOT NULL,
        PRIMARY KEY (engine, query, result_limit)
    );
    CREATE TABLE IF NOT EXISTS experiments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        idea_id INTEGER NOT NULL REFERENCES ideas(id),
        launch_id INTEGER REFERENCES launches(id),
        workspace TEXT NOT NULL UNIQUE,
        policy TEXT NOT NULL,
        socket TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        status TEXT NOT NULL DEFAULT 'running',
        message TEXT
    );
    CREATE INDEX IF NOT EXISTS experiments_idea ON experiments(idea_id);
    CREATE TABLE IF NOT EXISTS experiment_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        experiment_id INTEGER NOT NULL REFERENCES experiments(id),
        launch_id INTEGER REFERENCES launches(id),
        stage TEXT NOT NULL,
        number INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        glovebox_run_id INTEGER,
        status TEXT NOT NULL,
        exit_code INTEGER,
        signal INTEGER,
        wall_seconds REAL,
        cpu_seconds REAL,
        peak_memory_bytes INTEGER,
        gpus INTEGER NOT NULL DEFAULT 0,
        gpu_seconds REAL,
        policy_digest TEXT NOT NULL,
        limits_hit TEXT NOT NULL,
        commit_hash TEXT NOT NULL,
        metrics TEXT,
        outputs TEXT NOT NULL DEFAULT '{}',
        machine TEXT,
        outcome TEXT NOT NULL,
        message TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS experiment_runs_experiment ON experiment_runs(experiment_id);
    CREATE TABLE IF NOT EXISTS software_probes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        experiment_id INTEGER NOT NULL REFERENCES experiments(id),
        glovebox_run_id INTEGER,
        policy_digest TEXT NOT NULL,
        created_at REAL NOT NULL,
        facts TEXT,
        problem TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS papers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        idea_id INTEGER NOT NULL REFERENCES ideas(id),
        experiment_id INTEGER NOT NULL REFERENCES experiments(id),
        launch_id INTEGER REFERENCES launches(id),
        directory TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        status TEXT NOT NULL DEFAULT 'writing',
        base_commit TEXT,
        pdf TEXT,
        record_sha256 TEXT,
        message TEXT
    );
    CREATE INDEX IF NOT EXISTS papers_idea ON papers(idea_id);
    CREATE TABLE IF NOT EXISTS reviews (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        idea_id INTEGER REFERENCES ideas(id),
        paper_id INTEGER REFERENCES papers(id),
        launch_id INTEGER REFERENCES launches(id),
        source TEXT NOT NULL,
        source_sha256 TEXT NOT NULL,
        text_run_id INTEGER,
        model TEXT NOT NULL,
        review TEXT NOT NULL,
        ensemble TEXT NOT NULL,
        failures TEXT NOT NULL,
        reflections INTEGER NOT NULL,
        decision TEXT NOT NULL,
        overall INTEGER NOT NULL,
        compute_flag TEXT,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_usd REAL,
        created_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS reviews_idea ON reviews(idea_id);
    CREATE TABLE IF NOT EXISTS calibration_reviews (
        file_sha256 TEXT NOT NULL,
        model TEXT NOT NULL,
        settings TEXT NOT NULL,
        review_id INTEGER NOT NULL REFERENCES reviews(id),
        dataset TEXT NOT NULL,
        paper TEXT NOT NULL,
        PRIMARY KEY (file_sha256, model, settings)
    );
    CREATE TABLE IF NOT EXISTS call_replies (
        call_id INTEGER PRIMARY KEY REFERENCES llm_calls(id),
        request_sha256 TEXT NOT NULL,
        reply TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS launch_plans (
        launch_id INTEGER PRIMARY KEY REFERENCES launches(id),
        plan TEXT NOT NULL
    );
    """
}
