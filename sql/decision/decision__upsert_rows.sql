create or replace function kapitaal.decision__upsert_rows(p_table regclass, p_rows jsonb)
returns integer
language plpgsql
volatile
set search_path = kapitaal, pg_temp
as $$
declare
  v_cols text;
  v_set text;
  v_old text;
  v_new text;
  v_keys text;
  v_n integer;
begin
  if p_rows is null or jsonb_typeof(p_rows) <> 'array' or jsonb_array_length(p_rows) = 0 then
    return 0;
  end if;
  select string_agg(quote_ident(i.attname), ', ' order by u.k)
    into v_keys
    from pg_index x
   cross join lateral unnest(x.indkey::int2[]) with ordinality as u(attnum, k)
    join pg_attribute i on i.attrelid = x.indrelid and i.attnum = u.attnum
   where x.indrelid = p_table and x.indisprimary;
  if v_keys is null then
    raise exception 'decision__upsert_rows: % has no primary key', p_table using errcode = '42P10';
  end if;
  -- Columns from the catalog: a new column of the table needs no change here.
  select string_agg(quote_ident(a.attname), ', ' order by a.attnum),
         string_agg(format('%1$I = excluded.%1$I', a.attname), ', ' order by a.attnum) filter (where not k.is_key),
         string_agg('t.' || quote_ident(a.attname), ', ' order by a.attnum) filter (where not k.is_key),
         string_agg('excluded.' || quote_ident(a.attname), ', ' order by a.attnum) filter (where not k.is_key)
    into v_cols, v_set, v_old, v_new
    from pg_attribute a
   cross join lateral (
     select a.attnum = any (x.indkey::int2[]) as is_key from pg_index x where x.indrelid = p_table and x.indisprimary
   ) k
   where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped and a.attgenerated = '';
  execute format(
    'insert into %1$s as t (%2$s) overriding system value select %2$s from jsonb_populate_recordset(null::%1$s, $1) '
    'on conflict (%3$s) do %4$s',
    p_table, v_cols, v_keys,
    case when v_set is null then 'nothing'
         else format('update set %s where (%s) is distinct from (%s)', v_set, v_old, v_new) end)
  using p_rows;
  get diagnostics v_n = row_count;
  return v_n;
end
$$;
comment on function kapitaal.decision__upsert_rows(regclass, jsonb) is
  'Generic upsert of rows given as a jsonb array of objects (to_jsonb of the same table on another cluster) into '
  'p_table, keyed by its primary key; the column list comes from the catalog, so new columns need no code change. '
  'Unchanged rows are not rewritten. Returns the rows inserted or changed. Used by the decision sync.';
