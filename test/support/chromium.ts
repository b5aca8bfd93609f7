import { chromium, type Browser } from "playwright-core";

/** Debian's Chromium (apt-get install chromium). */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Debian's Chromium, headless, with nothing that reaches beyond this machine (background
 * networking, component updates and sync would each try the closed network). `args` adds to them.
 */
export function launchChromium(args: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ...args,
    ],
  });
}
