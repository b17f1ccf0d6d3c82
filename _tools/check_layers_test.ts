import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { layerProblems, projectEdges } from "./check_layers.ts";

async function project(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "check_layers_" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${path.slice(0, path.lastIndexOf("/") + 1)}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}`, text);
  }
  return dir;
}

Deno.test("check_layers: a folder cycle added to a clean tree is found, with the imports that make it", async () => {
  const files = {
    "main.ts": 'import { b } from "./b/b.ts";\nconsole.log(b);\n',
    "b/b.ts": 'import { g } from "../ground/g.ts";\nexport const b = g + 1;\n',
    "ground/g.ts": "export const g = 1;\n",
  };
  const clean = await project(files);
  const cyclic = await project({
    ...files,
    // ground now imports from a folder above it.
    "ground/g.ts": 'import { c } from "../b/c.ts";\nexport const g = c;\n',
    "b/c.ts": "export const c = 1;\n",
  });
  try {
    assertEquals(layerProblems(await projectEdges(clean, ["main.ts"])), []);
    const problems = layerProblems(await projectEdges(cyclic, ["main.ts"]));
    assert(problems.some((p) => p === "folders in one cycle: b, ground"), problems.join("\n"));
    assert(
      problems.some((p) => p.includes("ground -> b (ground/g.ts -> b/c.ts)")),
      problems.join("\n"),
    );
  } finally {
    await Deno.remove(clean, { recursive: true });
    await Deno.remove(cyclic, { recursive: true });
  }
});

Deno.test("check_layers: a private file imported from another folder is a problem, inside its folder it is not", () => {
  assertEquals(
    layerProblems([
      { from: "spool/spool.ts", to: "relay/_octet.ts" },
      { from: "relay/ingest.ts", to: "relay/_octet.ts" },
    ]),
    ["private import across folders: spool/spool.ts imports relay/_octet.ts"],
  );
});

Deno.test("check_layers: with public faces, only another folder's mod.ts may be imported", () => {
  assertEquals(
    layerProblems([
      { from: "agent/agent.ts", to: "relay/forwarder.ts" },
      { from: "agent/agent.ts", to: "spool/mod.ts" },
      { from: "main.ts", to: "cli/mod.ts" },
    ], true),
    ["import past a folder's public face: agent/agent.ts imports relay/forwarder.ts, not relay/mod.ts"],
  );
});
