import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { checkLayers, describeLayers, layerProblems, readLayers } from "./check_layers.ts";

const README = `# fixture

| layer | folder    | what                 |
| ----- | --------- | -------------------- |
| 2     | \`main.ts\` | the command line     |
| 1     | \`b/\`      | the middle           |
|       |           | (a continued row)    |
| 1     | \`c/\`      | beside b             |
| 0     | \`ground/\` | the bottom           |
`;

/** A clean tree: main.ts on b/ on ground/, through their mod.ts; a test and a bench beside. */
const CLEAN = {
  "README.md": README,
  "main.ts": 'import { b } from "./b/mod.ts";\nconsole.log(b);\n',
  "b/mod.ts": 'export { b } from "./b.ts";\n',
  "b/b.ts":
    'import { g } from "../ground/mod.ts";\nimport { h } from "./_h.ts";\nexport const b = g + h;\n',
  "b/_h.ts": "export const h = 1;\n",
  // A test may import its folder's private files, and a higher layer's mod.ts.
  "b/b_test.ts":
    'import { h } from "./_h.ts";\nimport { b } from "../b/mod.ts";\nimport "../main.ts";\nconsole.log(h, b);\n',
  "c/mod.ts": 'import { g } from "../ground/mod.ts";\nexport const c = g;\n',
  "ground/mod.ts": 'export { g } from "./g.ts";\n',
  "ground/g.ts": "export const g = 1;\n",
  "tests/c_test.ts":
    'import { c } from "../c/mod.ts";\nimport { t } from "./_t.ts";\nconsole.log(c, t);\n',
  "tests/_t.ts": "export const t = 1;\n",
  "bench/run.ts": 'import { b } from "../b/mod.ts";\nconsole.log(b);\n',
};

async function project(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "check_layers_" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${path.slice(0, path.lastIndexOf("/") + 1)}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}`, text);
  }
  return dir;
}

/** The problems of `files` laid out in a temp dir. */
async function problemsOf(files: Record<string, string>): Promise<string[]> {
  const dir = await project(files);
  try {
    return (await checkLayers(dir)).problems;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("check_layers: the layer table is read from the README, and printed lowest first", () => {
  const layers = readLayers(README);
  assertEquals([...layers], [["main.ts", 2], ["b", 1], ["c", 1], ["ground", 0]]);
  assertEquals(describeLayers(layers), "0 ground/; 1 b/ c/; 2 main.ts");
});

Deno.test("check_layers: a clean tree, its tests and bench included, has no problem", async () => {
  const dir = await project(CLEAN);
  try {
    const report = await checkLayers(dir);
    assertEquals(report.problems, []);
    assertEquals(report.files, Object.keys(CLEAN).filter((p) => p.endsWith(".ts")).length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check_layers: an import against the layer order is found, with the imports that make it", async () => {
  // ground (layer 0) imports from b (layer 1), through b's mod.ts.
  const upward = await problemsOf({
    ...CLEAN,
    "ground/g.ts": 'import { h } from "../b/mod.ts";\nexport const g = h;\n',
    "b/mod.ts": 'export { b } from "./b.ts";\nexport { h } from "./_h.ts";\n',
  });
  assert(
    upward.includes(
      "against the layer order: ground (layer 0) imports b (layer 1): ground/g.ts -> b/mod.ts",
    ),
    upward.join("\n"),
  );
  // A folder of the same layer is not below: c imports b.
  const beside = await problemsOf({
    ...CLEAN,
    "c/mod.ts": 'import { b } from "../b/mod.ts";\nexport const c = b;\n',
  });
  assertEquals(beside, [
    "against the layer order: c (layer 1) imports b (layer 1): c/mod.ts -> b/mod.ts",
  ]);
  // Nor is a folder the table does not name.
  const unnamed = await problemsOf({
    ...CLEAN,
    "b/b.ts": 'import "../bench/run.ts";\nexport const b = 1;\n',
  });
  assert(
    unnamed.includes(
      "against the layer order: b (layer 1) imports bench (not in the layer table): b/b.ts -> bench/run.ts",
    ),
    unnamed.join("\n"),
  );
});

Deno.test("check_layers: a file cycle is found, in a folder and across folders", async () => {
  const within = await problemsOf({
    ...CLEAN,
    "b/_h.ts": 'import { b } from "./b.ts";\nexport const h = 1;\nexport const hb = () => b;\n',
  });
  assertEquals(within, ["file cycle: b/_h.ts -> b/b.ts -> b/_h.ts"]);
  const across = await problemsOf({
    ...CLEAN,
    "ground/g.ts":
      'import { b } from "../b/mod.ts";\nexport const g = 1;\nexport const gb = () => b;\n',
  });
  assert(
    across.includes("file cycle: b/b.ts -> ground/mod.ts -> ground/g.ts -> b/mod.ts -> b/b.ts"),
    across.join("\n"),
  );
});

Deno.test("check_layers: a private file imported from another folder is a problem, inside its folder it is not", () => {
  const layers = new Map([["relay", 1], ["spool", 1]]);
  assertEquals(
    layerProblems([
      { from: "tests/x_test.ts", to: "bench/_octet.ts" },
      { from: "bench/y.ts", to: "bench/_octet.ts" },
      { from: "tests/x_test.ts", to: "tests/_helper.ts" },
    ], layers),
    ["private import across folders: tests/x_test.ts imports bench/_octet.ts"],
  );
});

Deno.test("check_layers: only a folder's mod.ts may be imported from another folder, by tests and bench too", () => {
  const layers = new Map([["main.ts", 2], ["agent", 1], ["relay", 0], ["spool", 0]]);
  assertEquals(
    layerProblems([
      { from: "agent/agent.ts", to: "relay/forwarder.ts" },
      { from: "agent/agent.ts", to: "spool/mod.ts" },
      { from: "main.ts", to: "agent/mod.ts" },
      { from: "tests/relay_test.ts", to: "relay/_octet.ts" },
      { from: "bench/run.ts", to: "spool/spool.ts" },
      { from: "relay/forwarder_test.ts", to: "agent/mod.ts" },
    ], layers),
    [
      "import past a folder's public face: agent/agent.ts imports relay/forwarder.ts, not relay/mod.ts",
      "import past a folder's public face: tests/relay_test.ts imports relay/_octet.ts, not relay/mod.ts",
      "import past a folder's public face: bench/run.ts imports spool/spool.ts, not spool/mod.ts",
    ],
  );
});

Deno.test("check_layers: run as a program, it prints the layers it checked and fails on a problem", async () => {
  const dir = await project({
    ...CLEAN,
    "c/mod.ts": 'import { b } from "../b/mod.ts";\nexport const c = b;\n',
  });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-run",
        new URL("./check_layers.ts", import.meta.url).pathname,
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 1, stderr);
    assert(stdout.includes("lowest first: 0 ground/; 1 b/ c/; 2 main.ts"), stdout);
    assert(stderr.includes("c (layer 1) imports b (layer 1)"), stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
