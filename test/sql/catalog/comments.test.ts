// "COMMENT ON everything" (shared/DESIGN.md): every object a DBA meets in schema
// kapitaal carries a pg_description entry, on both kinds of cluster (both get all
// migrations). Checked: functions/procedures/aggregates, tables (incl. partitioned
// parents), views, materialized views, foreign tables, stand-alone sequences,
// types (enums, domains, stand-alone composites) and user triggers.
// Not checked, and why:
//   - partitions (pg_class.relispartition): created at run time per ingest run by
//     ingest_run__create_partitions; the parent's comment describes them;
//   - sequences owned by a serial/identity column (pg_depend 'a'/'i'): part of the column;
//   - row types of tables/views and array types: implicit, described by their relation;
//   - objects owned by an extension (pg_depend 'e'): documented by the extension;
//   - indexes: not required here.
// Columns of tables, partitioned parents and views are checked separately below: a DBA
// reading `\d+ orders` sees for each column its unit, writer and when it is null, and
// `\d+ order_status` what each view column is and how a computed one is derived.
import { beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase, type Role } from '../../support/db.ts';

// Objects allowed to have no comment. Each entry needs a reason; keep it empty if possible.
const ALLOW: ReadonlyMap<string, string> = new Map<string, string>([]);

const UNCOMMENTED = `
with ns as (select oid from pg_namespace where nspname = 'kapitaal'),
ext as (select objid, classid from pg_depend where deptype = 'e'),
objs as (
  select case p.prokind when 'p' then 'procedure' when 'a' then 'aggregate' when 'w' then 'window function' else 'function' end as kind,
         p.oid::regprocedure::text as name, p.oid, 'pg_proc'::regclass as classoid
    from pg_proc p where p.pronamespace = (select oid from ns)
  union all
  select case c.relkind when 'r' then 'table' when 'p' then 'partitioned table' when 'v' then 'view'
                        when 'm' then 'materialized view' when 'f' then 'foreign table' when 'S' then 'sequence' end,
         c.oid::regclass::text, c.oid, 'pg_class'::regclass
    from pg_class c
   where c.relnamespace = (select oid from ns)
     and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
     and not c.relispartition
     and not exists (select 1 from pg_depend d
                      where d.classid = 'pg_class'::regclass and d.objid = c.oid
                        and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i') and c.relkind = 'S')
  union all
  select case t.typtype when 'e' then 'enum' when 'd' then 'domain' when 'c' then 'composite type' when 'r' then 'range type' end,
         t.oid::regtype::text, t.oid, 'pg_type'::regclass
    from pg_type t
   where t.typnamespace = (select oid from ns)
     and t.typtype in ('e', 'd', 'c', 'r')
     and (t.typtype <> 'c' or (select relkind from pg_class where oid = t.typrelid) = 'c')
  union all
  select 'trigger', format('%s on %s', tg.tgname, tg.tgrelid::regclass), tg.oid, 'pg_trigger'::regclass
    from pg_trigger tg join pg_class c on c.oid = tg.tgrelid
   where c.relnamespace = (select oid from ns) and not tg.tgisinternal and not c.relispartition
)
select kind, name from objs o
 where not exists (select 1 from ext where ext.objid = o.oid and ext.classid = o.classoid)
   and not exists (select 1 from pg_description d where d.objoid = o.oid and d.classoid = o.classoid and d.objsubid = 0
                   and btrim(d.description) <> '')
 order by kind, name`;

// Columns of tables, partitioned parents (partitions take theirs from the parent) and views.
// A view's column comment lives on the view (pg_description objsubid = attnum): `create or
// replace view` keeps it, a dropped and re-created view loses it unless its file sets it again.
const UNCOMMENTED_COLUMNS = `
select format('%s.%s', c.relname, a.attname) as name
  from pg_class c
  join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
 where c.relnamespace = 'kapitaal'::regnamespace
   and c.relkind in ('r', 'p', 'v')
   and not c.relispartition
   and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
   and not exists (select 1 from pg_description d
                    where d.objoid = c.oid and d.classoid = 'pg_class'::regclass and d.objsubid = a.attnum
                      and btrim(d.description) <> '')
 order by 1`;

// Columns allowed to have no comment ('table.column' or 'view.column' -> reason); keep it empty if possible.
const ALLOW_COLUMNS: ReadonlyMap<string, string> = new Map<string, string>([]);

describe.each<Role>(['ingest', 'decision'])('COMMENT ON in schema kapitaal (%s cluster)', (role) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await testDatabase(role);
  });

  it('every function, table, view, sequence, type and trigger has a comment', async () => {
    const { rows } = await db.pool.query<{ kind: string; name: string }>(UNCOMMENTED);
    const missing = rows.map((r) => `${r.kind} ${r.name}`).filter((k) => !ALLOW.has(k));
    expect(missing).toEqual([]);
  });

  it('every column of every table, partitioned parent and view has a comment', async () => {
    const { rows } = await db.pool.query<{ name: string }>(UNCOMMENTED_COLUMNS);
    const missing = rows.map((r) => r.name).filter((k) => !ALLOW_COLUMNS.has(k));
    expect(missing).toEqual([]);
  });

  it('the column check sees columns of tables, partitioned parents and views (it is not vacuous)', async () => {
    const { rows } = await db.pool.query<{ relkind: string; n: number }>(`
      select c.relkind::text as relkind, count(*)::int as n
        from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       where c.relnamespace = 'kapitaal'::regnamespace and c.relkind in ('r', 'p', 'v') and not c.relispartition
       group by 1 order by 1`);
    expect(rows.map((r) => r.relkind)).toEqual(['p', 'r', 'v']);
    // Each kind has commented columns, so the pg_description join above does match real rows.
    const { rows: commented } = await db.pool.query<{ relkind: string }>(`
      select distinct c.relkind::text as relkind
        from pg_class c join pg_description d on d.objoid = c.oid and d.classoid = 'pg_class'::regclass and d.objsubid > 0
       where c.relnamespace = 'kapitaal'::regnamespace and c.relkind in ('r', 'p', 'v') and not c.relispartition
       order by 1`);
    expect(commented.map((r) => r.relkind)).toEqual(['p', 'r', 'v']);
  });

  it('every column allow-list entry still names a column without a comment', async () => {
    const { rows } = await db.pool.query<{ name: string }>(UNCOMMENTED_COLUMNS);
    const present = new Set(rows.map((r) => r.name));
    for (const k of ALLOW_COLUMNS.keys()) expect(present, k).toContain(k);
  });

  it('the checked kinds are really present (the query is not vacuous)', async () => {
    const { rows } = await db.pool.query<{ kind: string; n: number }>(
      UNCOMMENTED.replace(/select kind, name from objs o[\s\S]*$/, 'select kind, count(*)::int n from objs group by kind order by kind'),
    );
    const kinds = rows.map((r) => r.kind);
    for (const k of ['function', 'table', 'partitioned table', 'view', 'trigger']) expect(kinds).toContain(k);
  });

  it('partitions left out of the check exist only below a commented parent', async () => {
    // A partition is excluded above; its top-level parent must carry the comment.
    const { rows } = await db.pool.query<{ name: string }>(`
      select c.oid::regclass::text as name
        from pg_class c
        join pg_inherits i on i.inhrelid = c.oid
       where c.relnamespace = 'kapitaal'::regnamespace and c.relispartition
         and obj_description(i.inhparent, 'pg_class') is null`);
    expect(rows.map((r) => r.name)).toEqual([]);
  });

  it('every allow-list entry still names an object without a comment', async () => {
    const { rows } = await db.pool.query<{ kind: string; name: string }>(UNCOMMENTED);
    const present = new Set(rows.map((r) => `${r.kind} ${r.name}`));
    for (const k of ALLOW.keys()) expect(present, k).toContain(k);
  });
});
