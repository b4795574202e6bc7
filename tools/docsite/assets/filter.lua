-- pandoc Lua filter of the offline site (tools/docsite): Quarto's class names for cells and outputs (so nbs/styles.css
-- applies as on the Quarto site), notebook links -> page links, the site's own absolute URLs -> relative ones, folded
-- code (`#| code-fold`), plot alt text (`#| fig-alt`), tables in a box of their own that scrolls sideways.
local nblinks, siteurl = {}, ""
local function meta(m)
  if m["site-nblinks"] then for k, v in pairs(m["site-nblinks"]) do nblinks[k] = pandoc.utils.stringify(v) end end
  if m["site-url"] then siteurl = pandoc.utils.stringify(m["site-url"]) end
end

local out_class = {stdout = "cell-output-stdout", stderr = "cell-output-stderr", execute_result = "cell-output-display",
                   display_data = "cell-output-display", error = "cell-output-error"}

-- pandoc stores cell metadata values as JSON text: "\"true\""
local function unquote(s)
  if s == nil then return nil end
  s = s:gsub('^"(.*)"$', '%1')
  return (s:gsub('\\"', '"'):gsub('\\\\', '\\'))
end

local function fold(blocks, how, summary)
  local out = pandoc.List()
  for _, b in ipairs(blocks) do
    if b.t == "CodeBlock" then
      out:insert(pandoc.RawBlock("html", '<details class="code-fold"' .. (how == "show" and " open" or "") ..
        '><summary>' .. summary:gsub("&", "&amp;"):gsub("<", "&lt;") .. '</summary>'))
      out:insert(b)
      out:insert(pandoc.RawBlock("html", "</details>"))
    else out:insert(b) end
  end
  return out
end

-- every plot of a cell with `#| fig-alt: ...` gets that text as its alt text
local function plots(d, alt)
  if not alt or alt == "" then return d end
  return d:walk({Image = function(img) img.caption = pandoc.Inlines(pandoc.Str(alt)); return img end})
end

local function cell(d)
  -- a cell whose code nbdev emptied (a line magic such as %timeit) keeps its output but shows no empty code box
  d.content = d.content:filter(function(b) return not (b.t == "CodeBlock" and b.text == "") end)
  local how, summary, alt = unquote(d.attributes["code-fold"]), unquote(d.attributes["code-summary"]),
                            unquote(d.attributes["fig-alt"])
  d.identifier, d.classes, d.attributes = "", {"cell"}, {}
  if how then d.content = fold(d.content, how, summary or "Show the code") end
  return plots(d, alt)
end

local function div(d)
  if d.classes:includes("cell") and d.classes:includes("markdown") then return d.content end  -- markdown is page text
  if d.classes:includes("cell") then return cell(d) end
  if d.classes:includes("output") then
    local cls = {"cell-output"}
    for _, c in ipairs(d.classes) do if out_class[c] then table.insert(cls, out_class[c]) end end
    d.classes, d.attributes = cls, {}
    return d
  end
end

local function link(l)
  local t = l.target
  if siteurl ~= "" and t:sub(1, #siteurl + 1) == siteurl .. "/" then t = t:sub(#siteurl + 2) end
  local file, frag = t:match("^([%w_%.%-]+%.ipynb)(#?.*)$")
  if file and nblinks[file] then t = nblinks[file] .. frag end
  l.target = t
  return l
end

-- pandoc reads each notebook cell on its own, so two cells can give two headings the same id; number the repeats
-- as pandoc (and so Quarto) does for one document: the first keeps the id, then id-1, id-2
local seen = {}
local function header(h)
  local id = h.identifier
  if id == "" then return nil end
  if seen[id] then
    local n, new = seen[id], nil
    repeat new = id .. "-" .. n; n = n + 1 until not seen[new]
    seen[id], seen[new], h.identifier = n, 1, new
    return h
  end
  seen[id] = 1
end

local function tbl(t) return pandoc.Div(t, {class = "table-wrap"}) end

-- pandoc writes MathML bare; a span around it (as with MathJax) gives a long equation its own sideways scroll box
local function math(m)
  return pandoc.Span({m}, {class = "math " .. (m.mathtype == "DisplayMath" and "display" or "inline")})
end

return {{Meta = meta}, {Div = div, Link = link, Header = header}, {Table = tbl, Math = math}}
