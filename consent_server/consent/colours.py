"""The site's accent colour made readable: WCAG contrast, and the colours people's pages and
mails use in light and dark (the site's accent where it reads at 4.5:1, ours where not)."""

LIGHT_BG, DARK_BG = "#ffffff", "#121212"
LIGHT_TEXT, DARK_TEXT = "#1b1b1b", "#121212"
# Our defaults, used where the site's accent would not be readable (WCAG 1.4.3, 4.5:1).
DEFAULT_LINK = {"light": "#0b57d0", "dark": "#8ab4f8"}
READABLE = 4.5


def luminance(colour: str) -> float:
    """WCAG 2.2 relative luminance of #rrggbb."""
    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(colour[i:i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: str, other: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours (1 to 21)."""
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def palette(accent: str | None) -> dict[str, dict[str, str]]:
    """Per scheme (light, dark): the accent (buttons), the text on it, and the link colour; the
    site's accent wherever it reads at 4.5:1, our defaults where it would not."""
    schemes = {}
    for scheme, background in (("light", LIGHT_BG), ("dark", DARK_BG)):
        colour = accent or DEFAULT_LINK[scheme]
        link = colour if contrast(colour, background) >= READABLE else DEFAULT_LINK[scheme]
        # White or near-black on the button, whichever reads better.
        on = max(("#ffffff", DARK_TEXT), key=lambda text: contrast(colour, text))
        if contrast(colour, on) < READABLE:
            colour, on = DEFAULT_LINK[scheme], "#ffffff" if scheme == "light" else DARK_TEXT
        schemes[scheme] = {"--accent": colour, "--accent-fg": on, "--link": link}
    return schemes


def theme_css(accent: str | None) -> str:
    """The custom properties people.css uses, for light and dark."""
    def rule(values: dict) -> str:
        return " ".join(f"{name}: {value};" for name, value in values.items())
    schemes = palette(accent)
    return (f":root {{ {rule(schemes['light'])} }}\n"
            f"@media (prefers-color-scheme: dark) {{ :root {{ {rule(schemes['dark'])} }} }}\n")
