import { describe, expect, it } from "vitest";
import { floorImports, floorOf, GRAPH_BEGIN, GRAPH_END, renderImportGraph, withImportGraph } from "../../render/import-graph";

const cruise = {
  modules: [
    { source: "index.ts", dependencies: [{ resolved: "components/postgres.ts" }, { resolved: "model/config.ts" }, { resolved: "node_modules/@pulumi/pulumi/index.js" }] },
    { source: "components/postgres.ts", dependencies: [{ resolved: "model/database.ts" }, { resolved: "components/pki.ts" }, { resolved: "fs", coreModule: true }] },
    { source: "model/database.ts", dependencies: [{ resolved: "model/messages.ts" }] },
    { source: "test/unit/x.test.ts", dependencies: [{ resolved: "model/database.ts" }] },
  ],
};

describe("the drawing of imports between folders", () => {
  it("one arrow per pair of folders, none for imports within a folder, packages, built-ins or folders not drawn", () => {
    expect(floorOf("index.ts")).toBe("index.ts");
    expect(floorOf("model/database.ts")).toBe("model");
    const floors = ["index.ts", "components", "model"];
    expect(Object.fromEntries(floorImports(cruise, floors))).toEqual({ "index.ts": ["components", "model"], components: ["model"], model: [] });
    expect(renderImportGraph(cruise, floors)).toBe(
      ['flowchart TD', '  index_ts["index.ts"]', '  components["components/"]', '  model["model/"]', "  index_ts --> components", "  index_ts --> model", "  components --> model", ""].join("\n"),
    );
  });

  it("replaces what is between the markers, and refuses a document without them", () => {
    const doc = `# Title\n\n${GRAPH_BEGIN}\nold drawing\n${GRAPH_END}\n\nafter\n`;
    const once = withImportGraph(doc, "flowchart TD\n");
    expect(once).toBe(`# Title\n\n${GRAPH_BEGIN}\n\n\`\`\`mermaid\nflowchart TD\n\`\`\`\n\n${GRAPH_END}\n\nafter\n`);
    expect(withImportGraph(once, "flowchart TD\n")).toBe(once);
    expect(() => withImportGraph("# no markers\n", "flowchart TD\n")).toThrow(/markers are missing/);
  });
});
