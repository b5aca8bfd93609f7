-- 002_tables.sql
--
-- The schemas auth, core, analytics, audit and integration are created by the
-- stack before this file runs (owned by the schema owner role this file runs
-- as). Roles, schemas, grants and passwords are the stack's business, never a
-- migration's.
--
-- Every point in time is timestamptz, not the seed's timestamp: a timestamp
-- without time zone is a wall-clock reading with no zone, so the same value
-- means different instants to an application in America/Sao_Paulo, a server in
-- UTC and a BI tool elsewhere, and daylight-saving changes make some readings
-- ambiguous. timestamptz stores an absolute instant (UTC inside) and converts
-- on input and output using the session's TimeZone.

-- auth (kept in step with Keycloak). companies comes first: users references it.
CREATE TABLE auth.companies (
    id                uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    name              varchar(255) NOT NULL,
    domain            varchar(100),
    subscription_plan varchar(50),
    max_users         integer      NOT NULL DEFAULT 10,
    is_active         boolean      NOT NULL DEFAULT true,
    created_at        timestamptz  NOT NULL DEFAULT now(),
    updated_at        timestamptz  NOT NULL DEFAULT now()
);

CREATE TABLE auth.users (
    id                uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    keycloak_id       varchar(255) NOT NULL UNIQUE,
    email             varchar(255) NOT NULL UNIQUE,
    first_name        varchar(100),
    last_name         varchar(100),
    -- The seed declared company_id without a foreign key.
    company_id        uuid         REFERENCES auth.companies (id),
    department        varchar(100),
    subscription_plan varchar(50),
    is_active         boolean      NOT NULL DEFAULT true,
    created_at        timestamptz  NOT NULL DEFAULT now(),
    updated_at        timestamptz  NOT NULL DEFAULT now()
);

-- core (the application itself)
CREATE TABLE core.projects (
    id          uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    name        varchar(255) NOT NULL,
    description text,
    company_id  uuid         REFERENCES auth.companies (id),
    owner_id    uuid         REFERENCES auth.users (id),
    status      varchar(50)  NOT NULL DEFAULT 'active',
    created_at  timestamptz  NOT NULL DEFAULT now(),
    updated_at  timestamptz  NOT NULL DEFAULT now()
);

CREATE TABLE core.automations (
    id         uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    name       varchar(255) NOT NULL,
    type       varchar(100), -- 'n8n', 'mautic', 'typebot'
    config     jsonb,
    project_id uuid         REFERENCES core.projects (id),
    is_active  boolean      NOT NULL DEFAULT true,
    created_at timestamptz  NOT NULL DEFAULT now(),
    updated_at timestamptz  NOT NULL DEFAULT now()
);

-- analytics (BI and metrics)
--
-- The seed created user_sessions as a plain table and then attached a
-- PARTITION OF it, which PostgreSQL rejects: only a table declared
-- PARTITION BY can have partitions. It is declared partitioned here, by range
-- of session_start. A primary key (and any unique constraint) on a partitioned
-- table must include the partition key, so the key is (id, session_start), and
-- session_start must be NOT NULL to route every row. The partitions themselves
-- are made in 004_partitions.sql.
CREATE TABLE analytics.user_sessions (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id       uuid        REFERENCES auth.users (id),
    session_start timestamptz NOT NULL DEFAULT now(),
    session_end   timestamptz,
    ip_address    inet,
    user_agent    text,
    actions_count integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (id, session_start)
) PARTITION BY RANGE (session_start);

CREATE TABLE analytics.system_metrics (
    id           uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    metric_name  varchar(100),
    metric_value numeric,
    tags         jsonb,
    recorded_at  timestamptz  NOT NULL DEFAULT now()
);

-- audit (audit trail)
CREATE TABLE audit.activity_logs (
    id            uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid         REFERENCES auth.users (id),
    action        varchar(100),
    resource_type varchar(100),
    resource_id   uuid,
    details       jsonb,
    ip_address    inet,
    user_agent    text,
    created_at    timestamptz  NOT NULL DEFAULT now()
);

-- integration (external integrations). The seed lists the schema but gives it
-- no table: one webhook endpoint per row, through which a company's
-- automations (n8n, Mautic, Typebot) are told about events. Signing secrets
-- are not stored here.
CREATE TABLE integration.webhooks (
    id         uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id uuid         NOT NULL REFERENCES auth.companies (id),
    provider   varchar(50)  NOT NULL, -- 'n8n', 'mautic', 'typebot', ...
    target_url text         NOT NULL,
    events     text[]       NOT NULL DEFAULT '{}',
    is_active  boolean      NOT NULL DEFAULT true,
    created_at timestamptz  NOT NULL DEFAULT now(),
    updated_at timestamptz  NOT NULL DEFAULT now()
);
