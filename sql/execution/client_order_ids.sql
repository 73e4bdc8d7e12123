-- Deterministic client order ids (Kraken cl_ord_id). The same decision always yields the same id, so a
-- retried evaluation or submit can never create a second order; a per-database salt keeps a fresh decision
-- database (evaluation ids restarting at 1) from reusing the ids of an earlier one on the same account.
create table if not exists kapitaal.execution_instance (
  singleton boolean primary key default true check (singleton),
  instance_id uuid not null default gen_random_uuid(),
  created_at timestamptz not null default now()
);
comment on table kapitaal.execution_instance is
  'One row: a random id drawn when this decision database was created. Salts client order ids so that two '
  'databases trading one Kraken account never produce the same cl_ord_id.';
comment on column kapitaal.execution_instance.singleton is 'Always true: the table holds one row.';
comment on column kapitaal.execution_instance.instance_id is
  'Random salt of order__client_id, drawn once when the row is inserted (on migration); never change it.';
comment on column kapitaal.execution_instance.created_at is 'When the row was inserted (database clock).';
insert into kapitaal.execution_instance (singleton) values (true) on conflict do nothing;

create or replace function kapitaal.order__client_id(p_kind text, p_id bigint, p_leg text default '0')
returns text
language sql
stable
parallel safe
as $$
  select md5(format('kapitaal:%s:%s:%s:%s', i.instance_id, p_kind, p_id, p_leg))::uuid::text
    from kapitaal.execution_instance i
$$;
comment on function kapitaal.order__client_id(text, bigint, text) is
  'Deterministic client order id (a UUID, valid as Kraken cl_ord_id): md5 of this database''s instance id, the '
  'kind (''entry'', ''exit''), the id (evaluation_id for entries, position_id for exits) and the leg.';
