#!/usr/bin/env python3
"""Renders the detection package's markdown (docs/*.md) as Simple XML views of the app, so the
text in the repository and the text in Splunk are the same.

    python3 scripts/docs_views.py          # rewrites app/default/data/ui/views/t1651_<page>.xml

Each `##` section becomes one HTML panel. SPL blocks (```spl) get an "Open in Search" link
with the search URL-encoded, so every investigation step runs with one click. Only a small,
safe markdown subset is understood (headings, paragraphs, lists, tables, fenced code,
`code`, **bold**, links); everything is HTML-escaped and `$` is doubled (Simple XML token
syntax). No JavaScript, no custom HTML files: AppInspect's cloud checks accept plain HTML
panels. tests/app_content.rs checks that each view still carries every heading and every SPL
block of its page.
"""

import html
import os
import re
import sys
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIEWS = os.path.join(ROOT, "app", "default", "data", "ui", "views")

# markdown page -> (view name, label)
PAGES = {
    "investigation-guide.md": ("t1651_investigation_guide", "T1651 Investigation guide"),
    "response-playbook.md": ("t1651_response_playbook", "T1651 Response playbook"),
    "hunting.md": ("t1651_hunting", "T1651 Hunting searches"),
    "tuning.md": ("t1651_tuning", "T1651 Tuning guide"),
    "atomic-red-team.md": ("t1651_atomic_validation", "T1651 Atomic Red Team validation"),
}


def esc(text):
    """HTML-escape, then double `$` so Simple XML shows it instead of reading a token."""
    return html.escape(text, quote=True).replace("$", "$$")


def link_target(href):
    name = href.split("#")[0]
    if name in PAGES:
        return PAGES[name][0]
    if re.match(r"^https?://", href):
        return href
    # A repository path (README, samples/...): shown as text, not linked.
    return None


def inline(text):
    """Inline markdown to HTML: `code`, **bold**, [text](href); everything else escaped."""
    out = []
    pos = 0
    pattern = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*|\[([^\]]+)\]\(([^)]+)\)")
    for m in pattern.finditer(text):
        out.append(esc(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append(f"<code>{esc(m.group(1))}</code>")
        elif m.group(2) is not None:
            out.append(f"<b>{inline(m.group(2))}</b>")
        else:
            target = link_target(m.group(4))
            label = inline(m.group(3))
            if target is None:
                out.append(label)
            elif target.startswith("http"):
                out.append(f'<a href="{esc(target)}" target="_blank">{label}</a>')
            else:
                out.append(f'<a href="{esc(target)}">{label}</a>')
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def render_block(lines):
    """Markdown lines of one section -> HTML."""
    out = []
    i = 0
    para = []

    def flush():
        if para:
            out.append("<p>" + inline(" ".join(para)) + "</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            flush()
            lang = line[3:].strip()
            code = []
            i += 1
            while not lines[i].startswith("```"):
                code.append(lines[i])
                i += 1
            text = "\n".join(code)
            out.append(f"<pre>{esc(text)}</pre>")
            if lang == "spl":
                q = urllib.parse.quote(text, safe="")
                out.append(f'<p><a href="search?q={q}" target="_blank">Open in Search</a></p>')
            i += 1
            continue
        if line.startswith("#"):
            flush()
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
        elif line.startswith("| "):
            flush()
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split(" | ")]
                rows.append(cells)
                i += 1
            head, body = rows[0], [r for r in rows[1:] if not set("".join(r)) <= set("-: ")]
            t = ["<table class=\"table\"><thead><tr>"]
            t += [f"<th>{inline(c)}</th>" for c in head]
            t.append("</tr></thead><tbody>")
            for r in body:
                t.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>")
            t.append("</tbody></table>")
            out.append("".join(t))
            continue
        elif re.match(r"^(- |\d+\. )", line):
            flush()
            ordered = not line.startswith("- ")
            items = []
            while i < len(lines) and re.match(r"^(- |\d+\. |  +\S)", lines[i]):
                if re.match(r"^(- |\d+\. )", lines[i]):
                    items.append(re.sub(r"^(- |\d+\. )", "", lines[i]))
                else:
                    items[-1] += " " + lines[i].strip()
                i += 1
            tag = "ol" if ordered else "ul"
            out.append(f"<{tag}>" + "".join(f"<li>{inline(x)}</li>" for x in items) + f"</{tag}>")
            continue
        elif line.strip() == "":
            flush()
        else:
            para.append(line.strip())
        i += 1
    flush()
    return "\n".join(out)


def render_page(md_name, text):
    view, label = PAGES[md_name]
    lines = text.split("\n")
    title = lines[0].lstrip("# ").strip()
    body = lines[1:]
    # Split into the intro and one section per "## ".
    sections = [[]]
    for line in body:
        if line.startswith("## "):
            sections.append([line])
        else:
            sections[-1].append(line)
    parts = [
        f"<!-- Generated from docs/{md_name} by scripts/docs_views.py: edit the markdown and rerun. -->",
        '<dashboard version="1.1" theme="light" hideEdit="true">',
        f"  <label>{esc(label)}</label>",
        f"  <description>{esc(title)}: the same text as docs/{esc(md_name)} in the app's repository.</description>",
    ]
    for sec in sections:
        if not any(s.strip() for s in sec):
            continue
        parts.append("  <row>\n    <panel>\n      <html>")
        parts.append(render_block(sec))
        parts.append("      </html>\n    </panel>\n  </row>")
    parts.append("</dashboard>")
    return view, "\n".join(parts) + "\n"


def main():
    for md_name in PAGES:
        with open(os.path.join(ROOT, "docs", md_name), encoding="utf-8") as f:
            view, xml = render_page(md_name, f.read())
        path = os.path.join(VIEWS, view + ".xml")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(xml)
        print(f"wrote {os.path.relpath(path, ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
