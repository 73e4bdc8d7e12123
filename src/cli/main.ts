// The `kapitaal` command line. Each command lives in its own file under
// commands/ and registers itself on the program passed in.
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/config.ts';
import { registerDashboardCommand } from './commands/dashboard.ts';
import { registerDbCommands } from './commands/db.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerExecuteCommand } from './commands/execute.ts';
import { registerIngestCommand } from './commands/ingest.ts';
import { registerReplicateCommand } from './commands/replicate.ts';
import { registerSimCommand } from './commands/sim.ts';
import { registerValidateCommands } from './commands/validate.ts';
import { UserError } from './user-error.ts';

const program = new Command()
  .name('kapitaal')
  .description('KapitaalBot: a Kraken spot trading engine whose logic lives in PostgreSQL')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerDbCommands(program);
registerReplicateCommand(program);
registerDemoCommand(program);
registerDashboardCommand(program);
registerExecuteCommand(program);
registerIngestCommand(program);
registerSimCommand(program);
registerValidateCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else if (err instanceof ConfigError || err instanceof UserError) {
    // One line, no stack: the user can act on it directly.
    process.stderr.write(`kapitaal: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`kapitaal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}
