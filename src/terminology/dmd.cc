#include "terminology/dmd.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "terminology/terminology.h"

namespace lhcr::terminology {
namespace {

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

bool Is(const xmlNode* n, const char* name) {
  return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST name) == 0;
}

std::string Text(const xmlNode* n) {
  std::string s;
  for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
    if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
      if (c->content != nullptr) s += reinterpret_cast<const char*>(c->content);
    }
  }
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The text of the child element `name`, or empty.
std::string Child(const xmlNode* n, const char* name) {
  for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
    if (Is(c, name)) return Text(c);
  }
  return "";
}

Status Walk(const xmlNode* n, std::vector<DmdProduct>* out) {
  for (; n != nullptr; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    DmdProduct p;
    const char* id_name = nullptr;
    if (Is(n, "VTM")) {
      p.level = DmdProduct::Level::kVtm;
      id_name = "VTMID";
    } else if (Is(n, "VMP")) {
      p.level = DmdProduct::Level::kVmp;
      id_name = "VPID";
      p.parent = Child(n, "VTMID");
    } else if (Is(n, "AMP")) {
      p.level = DmdProduct::Level::kAmp;
      id_name = "APID";
      p.parent = Child(n, "VPID");
    }
    if (id_name != nullptr) {
      p.id = Child(n, id_name);
      p.name = Child(n, "NM");
      p.invalid = Child(n, "INVALID") == "1";
      if (p.id.empty() || p.id.find_first_not_of("0123456789") != std::string::npos) {
        return Status::Incorrect(std::string("dm+d: ") + reinterpret_cast<const char*>(n->name) +
                                 " at line " + std::to_string(xmlGetLineNo(n)) +
                                 " has no numeric " + id_name);
      }
      if (p.name.empty()) {
        return Status::Incorrect("dm+d: " + p.id + " has no NM");
      }
      if (p.parent.find_first_not_of("0123456789") != std::string::npos) {
        return Status::Incorrect("dm+d: " + p.id + " has a non-numeric parent id");
      }
      out->push_back(std::move(p));
      continue;
    }
    RETURN_IF_ERROR(Walk(n->children, out));
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<DmdProduct>> ParseDmdXml(std::string_view xml) {
  static std::once_flag init;
  std::call_once(init, [] { xmlInitParser(); });
  if (xml.size() > static_cast<size_t>(INT32_MAX)) return Status::Incorrect("dm+d: file too big");
  std::unique_ptr<xmlDoc, DocFree> doc(
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "dmd.xml", nullptr,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) {
    const xmlError* e = xmlGetLastError();
    std::string why = e != nullptr && e->message != nullptr ? e->message : "not well-formed";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return Status::Incorrect("dm+d: XML does not parse: " + why +
                             (e != nullptr ? " (line " + std::to_string(e->line) + ")" : ""));
  }
  std::vector<DmdProduct> out;
  RETURN_IF_ERROR(Walk(xmlDocGetRootElement(doc.get()), &out));
  return out;
}

void AddDmdProducts(const std::vector<DmdProduct>& products, TerminologyBuilder& builder) {
  const std::string sct(kSnomed);
  for (const DmdProduct& p : products) {
    Concept& c = builder.MutableConcept(sct, p.id);
    // dm+d names are the UK preferred names; an RF2 term already held stays
    // as a designation.
    if (!c.display.empty() && c.display != p.name) c.designations.push_back(c.display);
    c.display = p.name;
    c.active = !p.invalid;
    c.properties["dmd-level"] = p.level == DmdProduct::Level::kVtm   ? "VTM"
                                : p.level == DmdProduct::Level::kVmp ? "VMP"
                                                                     : "AMP";
    if (!p.parent.empty() &&
        std::find(c.parents.begin(), c.parents.end(), p.parent) == c.parents.end()) {
      c.parents.push_back(p.parent);
      builder.MutableConcept(sct, p.parent);  // known even before its own file
    }
  }
}

}  // namespace lhcr::terminology
