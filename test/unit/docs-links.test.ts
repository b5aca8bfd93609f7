import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../io/repo-root";

/** The documents a reader follows links through; docs/ is read whole. */
const ROOT_DOCUMENTS = ["README.md", "BENCHMARKS.md", "images/README.md"];
const README_MAX_LINES = 300;

interface Link {
  line: number;
  target: string;
}

/** Text outside fenced code blocks, line for line (fenced lines blanked); inline code dropped, or only its backticks. */
function proseLines(markdown: string, inlineCode: "drop" | "unwrap"): string[] {
  let fence: string | undefined;
  return markdown.split("\n").map((line) => {
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1];
    if (fence !== undefined) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      return "";
    }
    if (marker) {
      fence = marker;
      return "";
    }
    return line.replace(/(`+)([^`]*?)\1/g, inlineCode === "drop" ? "" : "$2");
  });
}

/** Inline links and images `[text](target "title")`, and reference definitions `[id]: target`. */
export function markdownLinks(markdown: string): Link[] {
  const links: Link[] = [];
  proseLines(markdown, "drop").forEach((text, i) => {
    for (const m of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ line: i + 1, target: m[1] });
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(text);
    if (def) links.push({ line: i + 1, target: def[1] });
  });
  return links;
}

/**
 * The anchors GitHub gives a document's headings: the heading's text as rendered (no backticks,
 * emphasis or link targets), lower-cased, every character that is not a letter, digit, '_', '-'
 * or space dropped, each space turned into '-'; a repeated slug gets -1, -2, ...
 */
export function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown, "unwrap")) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/[*~]+(\S[^*~]*?)[*~]+/g, "$1")
      .replace(/<[^>]+>/g, "");
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "")
      .replace(/ /g, "-");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    slugs.add(count === 0 ? base : `${base}-${count}`);
  }
  return slugs;
}

/** What is wrong with each relative link of `file` (a path under `root`): a missing target or heading. */
interface Files {
  read(p: string): string;
  exists(p: string): boolean;
  isDirectory(p: string): boolean;
}
const DISK: Files = { read: (p) => readFileSync(p, "utf8"), exists: existsSync, isDirectory: (p) => statSync(p).isDirectory() };

export function brokenLinks(root: string, file: string, files: Files = DISK): string[] {
  const problems: string[] = [];
  const source = path.join(root, file);
  for (const { line, target } of markdownLinks(files.read(source))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue;
    const hash = target.indexOf("#");
    const filePart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
    const fragment = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const resolved = filePart === "" ? source : path.resolve(path.dirname(source), filePart);
    const where = `${file}:${line}: ${target}`;
    if (!resolved.startsWith(root + path.sep) && resolved !== root) {
      problems.push(`${where}: points outside the repository`);
    } else if (!files.exists(resolved)) {
      problems.push(`${where}: ${path.relative(root, resolved)} does not exist`);
    } else if (fragment !== undefined && fragment !== "") {
      if (files.isDirectory(resolved) || !resolved.endsWith(".md")) {
        problems.push(`${where}: a #fragment needs a Markdown file`);
      } else if (!headingSlugs(files.read(resolved)).has(fragment)) {
        problems.push(`${where}: ${path.relative(root, resolved)} has no heading #${fragment}`);
      }
    }
  }
  return problems;
}

function documents(): string[] {
  const docs = readdirSync(path.join(repoRoot, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`);
  return [...ROOT_DOCUMENTS, ...docs.sort()];
}

describe("the documentation's links", () => {
  it("finds the docs folder and its topics", () => {
    expect(documents().length).toBeGreaterThan(ROOT_DOCUMENTS.length);
  });

  it.each(documents())("every relative link of %s resolves, #fragments to a heading", (file) => {
    expect(brokenLinks(repoRoot, file)).toEqual([]);
  });

  it(`README.md is under ${README_MAX_LINES} lines`, () => {
    const lines = readFileSync(path.join(repoRoot, "README.md"), "utf8").split("\n").length;
    expect(lines).toBeLessThan(README_MAX_LINES);
  });
});

describe("the link check itself", () => {
  const root = path.join(path.sep, "repo");
  const texts: Record<string, string> = {
    [path.join(root, "README.md")]: [
      "# Title",
      "See [ok](docs/a.md#the-npm-run-up-step-what-it-does), [top](#title), [gone](docs/missing.md),",
      "[no heading](docs/a.md#nowhere), [web](https://example.com/x.md), [up](../x.md) and `[code](nope.md)`.",
      "```",
      "[fenced](nope.md)",
      "```",
      "[ref]: docs/a.md#second-1",
    ].join("\n"),
    [path.join(root, "docs/a.md")]: "# The `npm run up` step: what it does?\n## Second\n## Second\n",
  };
  const memory: Files = {
    read: (p) => texts[p] ?? (() => { throw new Error(`no such file ${p}`); })(),
    exists: (p) => p in texts,
    isDirectory: () => false,
  };

  it("slugs headings as GitHub does", () => {
    expect([...headingSlugs(texts[path.join(root, "docs/a.md")])]).toEqual(["the-npm-run-up-step-what-it-does", "second", "second-1"]);
    expect([...headingSlugs("## Debian 13's Docker engine (26.1), from a Debian 12 host\n")]).toEqual([
      "debian-13s-docker-engine-261-from-a-debian-12-host",
    ]);
  });

  it("reports a missing file, a missing heading and a link out of the repository; skips code and the web", () => {
    expect(brokenLinks(root, "README.md", memory)).toEqual([
      "README.md:2: docs/missing.md: docs/missing.md does not exist",
      "README.md:3: docs/a.md#nowhere: docs/a.md has no heading #nowhere",
      "README.md:3: ../x.md: points outside the repository",
    ]);
  });

  it("fails on a broken link in a real document", () => {
    const dir = path.join(repoRoot, "docs");
    const probe = readdirSync(dir).find((n) => n.endsWith(".md"))!;
    const broken: Files = { ...DISK, read: (p) => (p === path.join(dir, probe) ? "[x](no-such-file.md) [y](#no-such-heading)\n" : DISK.read(p)) };
    expect(brokenLinks(repoRoot, `docs/${probe}`, broken)).toEqual([
      `docs/${probe}:1: no-such-file.md: docs/no-such-file.md does not exist`,
      `docs/${probe}:1: #no-such-heading: docs/${probe} has no heading #no-such-heading`,
    ]);
  });
});
