"""Basic accessibility checks of the page a WebDriver shows, using only the driver's own protocol.

No page JavaScript is needed (the pages have none and the browser runs with it off): elements, attributes
and computed styles are read through WebDriver commands. Checked: every visible form control has a label
with text, one h1 and no skipped heading level, and text contrast of at least 4.5:1 (WCAG 2 AA for normal
text, applied to all text, large or not) against the first opaque background behind it.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

MIN_CONTRAST = 4.5
_RGBA = re.compile(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)")
WHITE = (255.0, 255.0, 255.0)


def parse_color(text: str) -> tuple[float, float, float, float]:
    found = _RGBA.fullmatch(text.strip())
    if not found:
        raise ValueError(f"unexpected CSS colour {text!r}")
    r, g, b, a = found.groups()
    return float(r), float(g), float(b), float(a) if a is not None else 1.0


def blend(top: tuple[float, float, float, float], bottom: tuple[float, float, float]) -> tuple[float, float, float]:
    alpha = top[3]
    return tuple(alpha * t + (1 - alpha) * b for t, b in zip(top[:3], bottom, strict=True))  # type: ignore[return-value]


def luminance(rgb: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: tuple[float, float, float], two: tuple[float, float, float]) -> float:
    light, dark = sorted((luminance(one), luminance(two)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def unlabelled_controls(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    missing = []
    for control in driver.find_elements(By.CSS_SELECTOR, "input, select, textarea"):
        if control.get_attribute("type") == "hidden" or not control.is_displayed():
            continue
        name = control.get_attribute("id") or control.get_attribute("name") or control.tag_name
        texts = [control.get_attribute("aria-label") or ""]
        if control.get_attribute("id"):
            texts += [label.text for label in driver.find_elements(By.CSS_SELECTOR, f"label[for='{name}']")]
        texts += [label.text for label in control.find_elements(By.XPATH, "ancestor::label")]
        if control.get_attribute("aria-labelledby"):
            texts += [driver.find_element(By.ID, ref).text for ref in control.get_attribute("aria-labelledby").split()]
        if not any(text.strip() for text in texts):
            missing.append(name)
    return missing


def heading_problems(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    levels = [int(h.tag_name[1]) for h in driver.find_elements(By.CSS_SELECTOR, "h1, h2, h3, h4, h5, h6")]
    problems = []
    if levels.count(1) != 1 or not levels or levels[0] != 1:
        problems.append(f"needs exactly one h1, first: {levels}")
    problems += [f"h{a} followed by h{b}" for a, b in itertools.pairwise(levels) if b > a + 1]
    return problems


def low_contrast_text(driver: Any) -> tuple[int, list[str]]:
    """(text elements checked, descriptions of those under MIN_CONTRAST)."""
    from selenium.webdriver.common.by import By

    backgrounds: dict[str, tuple[float, float, float, float]] = {}

    def background_of(element: Any) -> tuple[float, float, float, float]:
        if element.id not in backgrounds:
            backgrounds[element.id] = parse_color(element.value_of_css_property("background-color"))
        return backgrounds[element.id]

    checked, failures = 0, []
    for element in driver.find_elements(By.XPATH, "//body//*[text()[normalize-space()]]"):
        if not element.is_displayed() or not element.text.strip():
            continue
        checked += 1
        layers = []
        for ancestor in reversed(element.find_elements(By.XPATH, "ancestor-or-self::*")):
            layer = background_of(ancestor)
            if layer[3] > 0:
                layers.append(layer)
                if layer[3] >= 1:
                    break
        ground = WHITE  # the canvas behind everything
        for layer in reversed(layers):
            ground = blend(layer, ground)
        ratio = contrast(blend(parse_color(element.value_of_css_property("color")), ground), ground)
        if ratio < MIN_CONTRAST:
            failures.append(f"<{element.tag_name}> {element.text[:40]!r}: {ratio:.2f}:1")
    return checked, failures


MIN_TARGET = 44  # CSS px, WCAG 2.5.5 (AAA) and both phone platforms' guidance


def small_targets(driver: Any) -> list[str]:
    """Visible controls a finger must hit that are under MIN_TARGET CSS px in height or width.

    A radio button or checkbox counts through its label when it sits inside one (the whole label is the
    target). A link inside a sentence counts too (issue 19 item 7: WCAG exempts inline links, but a frightened
    person on a small phone does not), and so does a disclosure's summary.
    """
    from selenium.webdriver.common.by import By

    small = []
    for element in driver.find_elements(By.CSS_SELECTOR, "a, button, select, input, textarea, label, summary"):
        if not element.is_displayed() or element.get_attribute("type") == "hidden":
            continue
        tag = element.tag_name.lower()
        checkable = tag == "input" and element.get_attribute("type") in ("radio", "checkbox")
        if checkable and element.find_elements(By.XPATH, "ancestor::label"):
            continue
        if tag == "label" and not element.find_elements(By.CSS_SELECTOR, "input"):
            continue  # a field's caption, not something to tap
        size = element.size
        if size["height"] < MIN_TARGET or size["width"] < MIN_TARGET:
            name = element.get_attribute("id") or element.text.strip()[:30] or element.get_attribute("name") or tag
            small.append(f"<{tag}> {name!r} {size['width']:.0f}x{size['height']:.0f}")
    return small


def heading_size_problems(driver: Any) -> list[str]:
    """The page title (h1) must be larger than every other heading."""
    from selenium.webdriver.common.by import By

    def px(element: Any) -> float:
        return float(element.value_of_css_property("font-size").removesuffix("px"))

    h1 = driver.find_elements(By.TAG_NAME, "h1")
    if not h1:
        return ["no h1"]
    top = px(h1[0])
    return [f"<{h.tag_name}> {h.text[:30]!r} is {px(h):.0f}px, the h1 {top:.0f}px"
            for h in driver.find_elements(By.CSS_SELECTOR, "h2, h3, h4") if h.is_displayed() and px(h) >= top]
