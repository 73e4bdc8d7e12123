// graphile-migrate afterReset action for the shadow database of `npm run db:commit`:
// Graphile Worker's schema must exist before our migrations, as in `kapitaal db migrate`.
import { Logger, runMigrations } from 'graphile-worker';

const url = process.env.GM_DBURL;
if (!url) {
  process.stderr.write('GM_DBURL is not set (this script runs as a graphile-migrate action)\n');
  process.exit(2);
}
await runMigrations({ connectionString: url, logger: new Logger(() => () => {}) });
