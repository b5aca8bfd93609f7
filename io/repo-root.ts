import * as path from "node:path";

/** The repository's root folder (this file lives one level below it). */
export const repoRoot = path.resolve(__dirname, "..");
