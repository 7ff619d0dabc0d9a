// The web UI end to end, against a real manager, two nodes, ZooKeeper and MariaDB started by
// tests/web_ui.rs (which sets the SLUICE_E2E_* variables and writes rows meanwhile):
// log in; create a task in the editor, one invalid field first (its error beside it); see
// events counted on the task page and in the preview; pause and resume; ask the test to kill
// the owning node (`E2E kill NODE` on stdout) and see the task move to the other node; check
// the task page fits a 390 px screen. Screenshots go to $SLUICE_E2E_SCREENSHOTS if set.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { env, launch, step, until } from "./browser.mjs";

const url = env("SLUICE_E2E_URL");
const task = env("SLUICE_E2E_TASK");
const db = env("SLUICE_E2E_DB");
const shots = process.env.SLUICE_E2E_SCREENSHOTS;
if (shots) mkdirSync(shots, { recursive: true });

async function shot(page, name) {
  if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

const number = (text) => Number((text ?? "").replace(/[^0-9]/g, "") || "0");

const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log(`page error: ${e.message}`));

  step("log in");
  await page.goto(url);
  await page.getByLabel("User").fill(env("SLUICE_E2E_USER"));
  await page.getByLabel("Password").fill(env("SLUICE_E2E_PASSWORD"));
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Tasks" }).waitFor();
  await until("the live stream", () => page.getByRole("status", { name: "Live updates on" }).isVisible());

  step("the editor: one invalid field first");
  await page.getByRole("link", { name: "New task" }).click();
  await page.getByLabel("Task name").fill(task);
  await page.getByLabel("Source URL").fill(env("SLUICE_E2E_SOURCE_URL"));
  await page.getByLabel("Server ID").fill(env("SLUICE_E2E_SERVER_ID"));
  await page.getByLabel("Start", { exact: true }).fill("binlog.nowhere");
  await page.getByLabel("Include tables").fill(`${db}\\.t`);
  await page.getByLabel("File path").fill(env("SLUICE_E2E_SINK_PATH"));
  const startError = page.locator('[data-field="source.start"] .field-error');
  await startError.waitFor();
  console.log(`error beside source.start: ${await startError.textContent()}`);
  await until("only source.start refused", async () => (await page.locator(".field-error").count()) === 1);
  if ((await page.getByLabel("Start", { exact: true }).getAttribute("aria-invalid")) !== "true") throw new Error("the start field is not marked invalid");
  await shot(page, "editor");
  await page.getByLabel("Start", { exact: true }).fill(env("SLUICE_E2E_START"));
  await startError.waitFor({ state: "detached" });
  await page.getByText("config valid").waitFor();

  step("test connection and preview before saving");
  await page.getByRole("button", { name: "Test connection" }).click();
  const sourceCheck = page.getByRole("status", { name: "Source connection test" });
  await sourceCheck.waitFor({ timeout: 20_000 });
  console.log(`source check: ${await sourceCheck.textContent()}`);
  if (!(await sourceCheck.textContent()).includes("Connected")) throw new Error("the source connection test failed");
  await page.getByRole("button", { name: "Preview events" }).click();
  await until("previewed events of the test table", async () => (await page.locator(".events li", { hasText: `${db}.t` }).count()) > 0, 40_000);
  console.log(`preview before saving: ${await page.locator(".events li").count()} event(s)`);

  step("save");
  await page.getByRole("button", { name: "Create task" }).click();
  await page.getByRole("heading", { name: task }).waitFor();
  const owner = page.getByTestId("owner");
  const total = page.getByTestId("events-total");
  const first = await until("an owner", async () => {
    const text = (await owner.textContent()).trim();
    return text && text !== "none" && text !== "–" ? text : null;
  });
  console.log(`owner: ${first}`);
  const counted = await until("events counted", async () => number(await total.textContent()) || null, 60_000);
  await until("the count growing while rows are written", async () => number(await total.textContent()) > counted, 60_000);
  await until("throughput on the chart", async () => !["–", "0.0/s"].includes(await page.locator(".chart", { hasText: "Throughput" }).locator(".chart-now").textContent()), 60_000);
  console.log(`events delivered: ${await total.textContent()}`);

  step("preview on the task page");
  await page.getByRole("button", { name: "Preview events" }).click();
  await until("previewed events", async () => (await page.locator(".events li", { hasText: `${db}.t` }).count()) > 0, 40_000);
  await page.waitForTimeout(3000); // a few more chart points for the screenshot
  await shot(page, "task-page");

  step("pause and resume");
  await page.getByRole("button", { name: "Pause" }).click();
  await until("paused with no owner", async () => (await page.locator("h1 .badge").textContent()) === "paused" && (await owner.textContent()) === "none", 40_000);
  await page.getByRole("button", { name: "Resume" }).click();
  const resumedOn = await until("running again", async () => {
    const text = (await owner.textContent()).trim();
    return (await page.locator("h1 .badge").textContent()) === "running" && text !== "none" ? text : null;
  }, 40_000);
  console.log(`resumed on ${resumedOn}`);

  step("the task list, its search and filter");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Tasks" }).click();
  const row = page.locator(`tr[data-task="${task}"]`);
  await row.waitFor();
  await page.getByLabel("Filter by state").selectOption("paused");
  await row.waitFor({ state: "detached" });
  await page.getByLabel("Filter by state").selectOption("running");
  await row.waitFor();
  await page.getByLabel("Search tasks").fill("no-such-task");
  await row.waitFor({ state: "detached" });
  await page.getByLabel("Search tasks").fill(task.slice(0, 6));
  await row.waitFor();
  await page.getByLabel("Search tasks").fill("");
  await page.getByLabel("Filter by state").selectOption("");
  await page.getByLabel("Search tasks").blur();
  await shot(page, "task-list");

  step("a node stops: the task moves");
  await row.getByRole("link", { name: task }).click();
  const before = (await owner.textContent()).trim();
  console.log(`E2E kill ${before}`);
  const after = await until("another owner", async () => {
    const text = (await owner.textContent()).trim();
    return text !== before && text !== "none" && text !== "–" ? text : null;
  }, 90_000);
  console.log(`moved from ${before} to ${after} (seen live, no reload)`);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Nodes" }).click();
  await until(`${before} gone from the nodes page`, async () => (await page.locator(`[data-node="${before}"]`).count()) === 0, 60_000);
  await page.locator(`[data-node="${after}"]`, { hasText: task }).waitFor();
  await shot(page, "nodes");

  step("history: the audit log");
  await page.goto(`${url}/history?task=${encodeURIComponent(task)}`);
  for (const action of ["task.create", "task.pause", "task.resume"]) await page.getByRole("table", { name: "Audit log" }).getByText(action).first().waitFor();

  step("a viewer sees no write buttons");
  await page.evaluate(async () => {
    const { token } = JSON.parse(localStorage.getItem("sluice.session"));
    const response = await fetch("/api/v1/users", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "e2e-viewer", password: "e2e-viewer-pw", role: "viewer" }),
    });
    if (response.status !== 201) throw new Error(`creating a viewer: ${response.status} ${await response.text()}`);
  });
  const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const viewer = await viewerContext.newPage();
  await viewer.goto(url);
  await viewer.getByLabel("User").fill("e2e-viewer");
  await viewer.getByLabel("Password").fill("e2e-viewer-pw");
  await viewer.getByRole("button", { name: "Log in" }).click();
  await viewer.locator(`tr[data-task="${task}"]`).getByRole("link").click();
  await viewer.getByTestId("owner").waitFor();
  for (const name of ["Pause", "Resume", "Delete", "Restart from position", "Preview events"])
    if (await viewer.getByRole("button", { name }).count()) throw new Error(`a viewer sees the ${name} button`);
  if (await viewer.getByRole("link", { name: "Edit" }).count()) throw new Error("a viewer sees the Edit link");
  await viewerContext.close();

  step("390 px wide");
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, storageState: await context.storageState() });
  const small = await phone.newPage();
  for (const path of ["/", `/tasks/${encodeURIComponent(task)}`, `/tasks/${encodeURIComponent(task)}/edit`]) {
    await small.goto(`${url}${path}`);
    await small.getByRole("heading").first().waitFor();
    await small.waitForTimeout(500);
    const width = await small.evaluate(() => document.documentElement.scrollWidth);
    console.log(`${path} at 390 px: scroll width ${width}`);
    if (width > 390) throw new Error(`${path} overflows a 390 px screen: ${width} px wide`);
  }
  await shot(small, "editor-390");
  step("done");
} finally {
  await browser.close();
}
