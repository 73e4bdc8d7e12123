// Builds Graphile Worker's task list from tasks/: one default-exported task per
// file, the file name being the task identifier.
import fs from 'node:fs';
import path from 'node:path';
import type { Task, TaskList } from 'graphile-worker';
import { ROOT_DIR } from '../db/migrate.ts';

export const TASKS_DIR = path.join(ROOT_DIR, 'tasks');

export async function loadTaskList(only?: readonly string[]): Promise<TaskList> {
  const names = fs
    .readdirSync(TASKS_DIR)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .filter((n) => !only || only.includes(n));
  const missing = (only ?? []).filter((n) => !names.includes(n));
  if (missing.length) throw new Error(`no task file for: ${missing.join(', ')} (looked in ${TASKS_DIR})`);
  const list: TaskList = {};
  for (const name of names) {
    const mod = (await import(path.join(TASKS_DIR, `${name}.ts`))) as { default?: Task };
    if (typeof mod.default !== 'function') throw new Error(`tasks/${name}.ts must default-export a task function`);
    list[name] = mod.default;
  }
  return list;
}
