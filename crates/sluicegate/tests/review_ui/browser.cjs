// The review UI in headless Chromium (crates/sluicegate/tests/review_ui.rs starts the server
// and runs this with NODE_PATH pointing at the pinned playwright-core).
//
// argv: <login URL> <JSON {good, hostile}: proposal ids> <screenshot dir or "">
// Prints one JSON object on stdout: what the pages showed, every dialog that fired, every
// request to another origin, and the session cookie and CSRF token (for the Rust side's
// refusal checks). Any failed expectation throws (exit 1) with the reason on stderr.
"use strict";

const { chromium } = require("playwright-core");

const [loginUrl, idsJson, shots] = process.argv.slice(2);
const ids = JSON.parse(idsJson);
const origin = new URL(loginUrl).origin;

function expect(condition, what) {
  if (!condition) throw new Error("expected: " + what);
}

async function text(page, selector) {
  return (await page.locator(selector).first().textContent()).trim();
}

async function afterOf(page, column) {
  const row = page.locator("#diff tbody tr", { has: page.locator("th", { hasText: column }) });
  return {
    before: (await row.locator("td.before").textContent()).trim(),
    after: (await row.locator("td.after").textContent()).trim(),
  };
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.SLUICEGATE_TEST_CHROMIUM || "chromium",
    args: ["--no-sandbox"],
  });
  const out = { dialogs: [], foreign: [], pageErrors: [] };
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on("dialog", async (d) => {
      out.dialogs.push(d.message());
      await d.dismiss();
    });
    page.on("request", (r) => {
      const u = r.url();
      if (!u.startsWith(origin + "/")) out.foreign.push(u);
    });
    page.on("pageerror", (e) => out.pageErrors.push(String(e)));

    // Log in from the printed URL: the token becomes a session cookie, the page the inbox.
    await page.goto(loginUrl);
    expect(page.url() === origin + "/", "the login lands on the inbox, got " + page.url());
    // A marker a reload would lose: it must survive the live update.
    await page.evaluate(() => { window.__marker = "kept"; });
    out.inboxRows = await page.locator("table.inbox tbody tr").evaluateAll((rows) =>
      rows.map((r) => Array.from(r.querySelectorAll("td:not(.pick)")).map((td) => td.textContent.trim())),
    );
    // Live update: the Rust side records another proposal over MCP once told the inbox is
    // open; the row appears without a reload.
    process.stdout.write(JSON.stringify({ ready: "inbox" }) + "\n");
    await page.locator("table.inbox td", { hasText: "INV-9001" }).waitFor({ timeout: 20000 });
    out.liveRows = await page.locator("table.inbox tbody tr").evaluateAll((rows) =>
      rows.map((r) => Array.from(r.querySelectorAll("td:not(.pick)")).map((td) => td.textContent.trim())),
    );
    out.markerKept = await page.evaluate(() => window.__marker === "kept");
    if (shots) await page.screenshot({ path: shots + "/review-ui-inbox.png", fullPage: true });

    // Keyboard: j focuses the first row, Enter opens it.
    await page.keyboard.press("j");
    out.focusedAfterJ = await page.evaluate(() => document.activeElement.textContent.trim());
    await Promise.all([page.waitForURL(/\/proposals\//), page.keyboard.press("Enter")]);
    out.openedByEnter = page.url();

    // The other pages, from the nav.
    for (const [name, path] of [["activity", "/activity"], ["receipts", "/receipts"], ["tools", "/tools"]]) {
      await Promise.all([page.waitForURL(origin + path), page.click('nav a[href="' + path + '"]')]);
      out[name + "Heading"] = await text(page, "h1");
    }
    if (shots) await page.screenshot({ path: shots + "/review-ui-tools.png", fullPage: true });

    // The hostile proposal renders inert.
    await page.goto(origin + "/proposals/" + ids.hostile);
    out.hostile = await afterOf(page, "waiver_reason");
    out.hostileDom = await page.evaluate(() => ({
      scripts: Array.from(document.scripts).map((s) => s.getAttribute("src")),
      images: document.images.length,
      jsLinks: document.querySelectorAll('a[href^="javascript:"]').length,
      iframes: document.querySelectorAll("iframe").length,
    }));
    out.csrf = await page.locator('input[name="csrf"]').first().inputValue();

    // r focuses the reason (Esc leaves it); reject needs a reason: an empty one is not sent,
    // the proposal stays pending.
    await page.keyboard.press("r");
    out.focusAfterR = await page.evaluate(() => document.activeElement.id);
    await page.keyboard.press("Escape");
    await page.click("#reject");
    expect(page.url() === origin + "/proposals/" + ids.hostile, "no navigation without a reason");
    expect((await text(page, "#state")) === "pending review", "still pending without a reason");
    await page.fill("#reason", "markup and terminal escapes in the reason");
    await Promise.all([page.waitForURL(/notice=rejected/), page.click("#reject")]);
    out.hostileState = await text(page, "#state");

    // The good proposal: the exact diff, approved with the keyboard, then applied.
    await page.goto(origin + "/proposals/" + ids.good);
    out.goodFee = await afterOf(page, "late_fee_cents");
    out.goodReason = await afterOf(page, "waiver_reason");
    out.goodHash = await text(page, "#hash");
    out.goodVerify = await text(page, "#verify");
    if (shots) await page.screenshot({ path: shots + "/review-ui-proposal.png", fullPage: true });
    await Promise.all([page.waitForURL(/notice=approved/), page.keyboard.press("a")]);
    out.signedBy = await text(page, "header .who");
    out.approvedState = await text(page, "#state");
    await Promise.all([page.waitForURL(/notice=applied/), page.click("#apply")]);
    out.appliedState = await text(page, "#state");
    out.appliedNotice = await text(page, ".notice");

    // Esc goes back to the inbox.
    await Promise.all([page.waitForURL(origin + "/"), page.keyboard.press("Escape")]);
    out.inboxAfter = await page.locator("table.inbox tbody tr").count();

    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "sluicegate_session");
    expect(session, "a session cookie");
    out.cookie = { value: session.value, httpOnly: session.httpOnly, sameSite: session.sameSite };
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + "\n");
})().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
