// The browser of the end-to-end specs: Debian's Chromium driven by playwright-core (no
// browser download), and the small waiting helpers the specs share.
import { chromium } from "playwright-core";
import { existsSync } from "node:fs";

export const CHROMIUM = process.env.SLUICE_E2E_CHROMIUM ?? "/usr/bin/chromium";

export async function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install it with \`bash tests/services/install.sh\` (Debian package chromium)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
}

/// Polls `check` until it returns a truthy value (which is returned); throws naming `what`
/// and the last value seen after `timeoutMs`.
export async function until(what, check, timeoutMs = 30_000) {
  const started = Date.now();
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function step(text) {
  console.log(`[${new Date().toISOString().slice(11, 23)}] ${text}`);
}

export function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (the spec is run by tests/web_ui.rs)`);
  return value;
}
