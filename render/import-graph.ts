/**
 * The drawing of imports between the repository's folders (docs/development.md), from
 * dependency-cruiser's JSON: one node per folder (index.ts alone), one arrow per pair of folders
 * with at least one import, in Mermaid, which GitHub draws. Pure.
 */

/** What this reads of `depcruise --output-type json`. */
export interface CruiseResult {
  modules: { source: string; dependencies: { resolved: string; coreModule?: boolean }[] }[];
}

/** The floor a module lives on: its top folder, or the file itself at the top (index.ts). Pure. */
export function floorOf(file: string): string {
  const slash = file.indexOf("/");
  return slash < 0 ? file : file.slice(0, slash);
}

/** Folder -> the folders it imports, sorted, among `floors` only (no packages, no Node built-ins). Pure. */
export function floorImports(result: CruiseResult, floors: readonly string[]): Map<string, string[]> {
  const known = new Set(floors);
  const edges = new Map<string, Set<string>>(floors.map((f) => [f, new Set<string>()]));
  for (const m of result.modules) {
    const from = floorOf(m.source);
    if (!known.has(from)) continue;
    for (const d of m.dependencies) {
      const to = floorOf(d.resolved);
      if (d.coreModule || !known.has(to) || to === from) continue;
      edges.get(from)!.add(to);
    }
  }
  return new Map([...edges].map(([k, v]) => [k, [...v].sort()]));
}

/** The Mermaid flowchart, top to bottom in the order of `floors` (highest first). Pure. */
export function renderImportGraph(result: CruiseResult, floors: readonly string[]): string {
  const id = (f: string) => f.replace(/[^a-z0-9]/gi, "_");
  const label = (f: string) => (f.includes(".") ? f : `${f}/`);
  const lines = ["flowchart TD"];
  for (const f of floors) lines.push(`  ${id(f)}["${label(f)}"]`);
  for (const [from, tos] of floorImports(result, floors)) for (const to of tos) lines.push(`  ${id(from)} --> ${id(to)}`);
  return `${lines.join("\n")}\n`;
}

export const GRAPH_BEGIN = "<!-- import graph: written by `npm run lint:arch:graph`, checked by `npm run lint:arch` -->";
export const GRAPH_END = "<!-- end of import graph -->";

/** `doc` with the drawing between the markers replaced by `graph`; throws when a marker is missing. Pure. */
export function withImportGraph(doc: string, graph: string): string {
  const begin = doc.indexOf(GRAPH_BEGIN);
  const end = doc.indexOf(GRAPH_END);
  if (begin < 0 || end < begin) throw new Error(`the import graph's markers are missing: ${GRAPH_BEGIN} ... ${GRAPH_END}`);
  return `${doc.slice(0, begin + GRAPH_BEGIN.length)}\n\n\`\`\`mermaid\n${graph}\`\`\`\n\n${doc.slice(end)}`;
}
