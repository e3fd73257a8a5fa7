"""What every browser test does: sign in as a user, and check a screen with axe-core (vendored)."""
from pathlib import Path

AXE = Path(__file__).with_name("vendor") / "axe-core-4.14.1.min.js"


def login(browser, base, username):
    context = browser.new_context(base_url=base, viewport={"width": 1200, "height": 760})
    page = context.new_page()
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pass-{username}")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")
    page.wait_for_function("() => document.body.dataset.socket === 'online'")
    return context, page


def assert_accessible(page, *, context: str = "") -> None:
    """axe-core on the page as it is now: no serious or critical violation (WCAG 2 A/AA rules)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    assert result == [], f"axe found serious/critical violations{' on ' + context if context else ''}: {result}"
