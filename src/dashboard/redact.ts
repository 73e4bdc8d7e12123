// Error texts for the page without secrets: database passwords (from the URLs) and the
// engine's secret variables are replaced, and any URL's user:password@ part is cut.
import { SECRET_VARIABLES } from '../config/config.ts';

/** Passwords in the given postgres URLs and the values of the secret variables in env. */
export function secretsOf(urls: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const out = new Set<string>();
  for (const u of urls) {
    try {
      const pw = new URL(u).password;
      if (pw) {
        out.add(pw);
        out.add(decodeURIComponent(pw));
      }
    } catch {
      // Not a URL: the config schema has already refused it; nothing to collect.
    }
  }
  for (const v of SECRET_VARIABLES) if (env[v]) out.add(env[v]!);
  return [...out].filter((s) => s.length > 0);
}

export function redact(message: string, secrets: string[]): string {
  let m = message.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1***@');
  // Longest first, so a secret that contains another is replaced whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) m = m.split(s).join('***');
  return m;
}
