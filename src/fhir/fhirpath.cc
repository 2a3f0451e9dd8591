#include "fhir/fhirpath.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <utility>

namespace lhcr::fhir {
namespace {

// ---------------------------------------------------------------------------
// FHIR type names

struct TypeName {
  std::string_view suffix;  // as it appears after a choice element name
  std::string_view name;    // the FHIR type name
  bool primitive;
};

// R4 data types that may appear as the type of a choice element [x]
// (http://hl7.org/fhir/R4/datatypes.html, metadatatypes.html).
constexpr std::array<TypeName, 53> kTypes = {{
    {"Base64Binary", "base64Binary", true},
    {"Boolean", "boolean", true},
    {"Canonical", "canonical", true},
    {"Code", "code", true},
    {"Date", "date", true},
    {"DateTime", "dateTime", true},
    {"Decimal", "decimal", true},
    {"Id", "id", true},
    {"Instant", "instant", true},
    {"Integer", "integer", true},
    {"Markdown", "markdown", true},
    {"Oid", "oid", true},
    {"PositiveInt", "positiveInt", true},
    {"String", "string", true},
    {"Time", "time", true},
    {"UnsignedInt", "unsignedInt", true},
    {"Uri", "uri", true},
    {"Url", "url", true},
    {"Uuid", "uuid", true},
    {"Xhtml", "xhtml", true},
    {"Address", "Address", false},
    {"Age", "Age", false},
    {"Annotation", "Annotation", false},
    {"Attachment", "Attachment", false},
    {"CodeableConcept", "CodeableConcept", false},
    {"Coding", "Coding", false},
    {"ContactPoint", "ContactPoint", false},
    {"Count", "Count", false},
    {"Distance", "Distance", false},
    {"Duration", "Duration", false},
    {"HumanName", "HumanName", false},
    {"Identifier", "Identifier", false},
    {"Money", "Money", false},
    {"MoneyQuantity", "MoneyQuantity", false},
    {"Period", "Period", false},
    {"Quantity", "Quantity", false},
    {"Range", "Range", false},
    {"Ratio", "Ratio", false},
    {"Reference", "Reference", false},
    {"SampledData", "SampledData", false},
    {"Signature", "Signature", false},
    {"SimpleQuantity", "SimpleQuantity", false},
    {"Timing", "Timing", false},
    {"ContactDetail", "ContactDetail", false},
    {"Contributor", "Contributor", false},
    {"DataRequirement", "DataRequirement", false},
    {"Expression", "Expression", false},
    {"ParameterDefinition", "ParameterDefinition", false},
    {"RelatedArtifact", "RelatedArtifact", false},
    {"TriggerDefinition", "TriggerDefinition", false},
    {"UsageContext", "UsageContext", false},
    {"Dosage", "Dosage", false},
    {"Meta", "Meta", false},
}};

bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsAlpha(char c) { return IsUpper(c) || IsLower(c); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
char ToLower(char c) { return IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

// The type named by a choice suffix ("DateTime" -> "dateTime"), or null.
const TypeName* ChoiceType(std::string_view suffix) {
  for (const TypeName& t : kTypes) {
    if (t.suffix == suffix) return &t;
  }
  return nullptr;
}

// The table entry for a type name written in an expression ("DateTime",
// "dateTime", "FHIR.dateTime", "System.String"), or null.
const TypeName* LookupTypeName(std::string_view name) {
  if (name.empty()) return nullptr;
  for (const TypeName& t : kTypes) {
    if (t.name.size() == name.size() && ToLower(t.name[0]) == ToLower(name[0]) &&
        t.name.substr(1) == name.substr(1)) {
      return &t;
    }
  }
  return nullptr;
}

// Type names equal up to the case of the first letter (System.DateTime vs
// FHIR.dateTime), or `actual` a specialisation of Quantity.
bool TypeNameMatches(std::string_view actual, std::string_view wanted) {
  if (actual.empty() || wanted.empty()) return false;
  if (actual.size() == wanted.size() && ToLower(actual[0]) == ToLower(wanted[0]) &&
      actual.substr(1) == wanted.substr(1)) {
    return true;
  }
  if (wanted == "Quantity") {
    return actual == "Age" || actual == "Count" || actual == "Distance" || actual == "Duration" ||
           actual == "SimpleQuantity" || actual == "MoneyQuantity";
  }
  return false;
}

bool IsBaseResourceName(std::string_view t) { return t == "Resource" || t == "DomainResource"; }

const Json& BoolValue(bool b) {
  static const Json kTrue(true);
  static const Json kFalse(false);
  return b ? kTrue : kFalse;
}
PathValue Bool(bool b) { return PathValue{&BoolValue(b), "boolean"}; }

// ---------------------------------------------------------------------------
// The compiled program

enum class StepKind {
  kTypeFilter,  // a leading type name: passes a resource of that type
  kChild,
  kWhere,
  kAs,  // as(T), ofType(T), `X as T`
  kIs,  // is(T), `X is T`
  kExtension,
  kHasExtension,
  kResolve,
  // Collection-level steps: they see the whole collection at once.
  kExists,
  kEmpty,
  kNot,
  kFirst,
  kLast,
  kIndex,
};

bool IsCollectionStep(StepKind k) { return k >= StepKind::kExists; }

enum class NodeKind { kChain, kUnion, kEq, kNe, kAnd, kOr, kLiteral, kThis, kResource };

struct Node;

struct Step {
  StepKind kind;
  std::string name;                 // child name, type name, extension url
  const TypeName* type = nullptr;   // kAs / kIs: the table entry for `name`, if any
  std::unique_ptr<Node> predicate;  // kWhere
  size_t index = 0;                 // kIndex
};

struct Node {
  NodeKind kind;
  // kUnion: branches; binary operators: lhs, rhs; kChain: the base when not
  // the implicit focus.
  std::vector<std::unique_ptr<Node>> kids;
  // kChain
  bool implicit_focus = false;
  std::vector<Step> steps;
  // kLiteral
  std::string literal_text;
  std::unique_ptr<Json> literal;
  std::string_view literal_type;
};

}  // namespace

struct FhirPath::Program {
  std::string expression;
  FhirPathOptions options;
  std::unique_ptr<Node> root;
  std::string leading_type;
};

namespace {

// ---------------------------------------------------------------------------
// Parser

enum class Tok { kEnd, kIdent, kString, kNumber, kPercent, kDollar, kOp };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // identifier / decoded string / number / operator / variable name
  size_t pos = 0;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<std::unique_ptr<Node>> ParseAll() {
    RETURN_IF_ERROR(Advance());
    ASSIGN_OR_RETURN(auto node, ParseOr());
    if (tok_.kind != Tok::kEnd) return Error("unexpected '" + tok_.text + "'");
    return node;
  }

 private:
  Status Error(const std::string& what) const {
    return Status::Incorrect("FHIRPath: " + what + " at offset " + std::to_string(tok_.pos) +
                             " in \"" + std::string(text_) + "\"");
  }
  Status Unsupported(const std::string& what) const {
    return Status::Unsupported("FHIRPath: " + what + " is not supported (in \"" +
                               std::string(text_) + "\")");
  }

  Status Advance() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
    tok_ = Token();
    tok_.pos = pos_;
    if (pos_ >= text_.size()) return Status::Ok();
    char c = text_[pos_];
    if (IsAlpha(c) || c == '_') {
      size_t start = pos_;
      while (pos_ < text_.size() &&
             (IsAlpha(text_[pos_]) || IsDigit(text_[pos_]) || text_[pos_] == '_'))
        ++pos_;
      tok_.kind = Tok::kIdent;
      tok_.text = std::string(text_.substr(start, pos_ - start));
      return Status::Ok();
    }
    if (c == '`') {
      size_t end = text_.find('`', pos_ + 1);
      if (end == std::string_view::npos) return Error("unterminated `identifier`");
      if (end == pos_ + 1) return Error("empty `identifier`");
      tok_.kind = Tok::kIdent;
      tok_.text = std::string(text_.substr(pos_ + 1, end - pos_ - 1));
      pos_ = end + 1;
      return Status::Ok();
    }
    if (IsDigit(c)) {
      size_t start = pos_;
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
      if (pos_ + 1 < text_.size() && text_[pos_] == '.' && IsDigit(text_[pos_ + 1])) {
        return Unsupported("a decimal literal");
      }
      tok_.kind = Tok::kNumber;
      tok_.text = std::string(text_.substr(start, pos_ - start));
      return Status::Ok();
    }
    if (c == '\'') {
      std::string s;
      ++pos_;
      while (true) {
        if (pos_ >= text_.size()) return Error("unterminated string literal");
        char d = text_[pos_++];
        if (d == '\'') break;
        if (d == '\\') {
          if (pos_ >= text_.size()) return Error("unterminated string literal");
          char e = text_[pos_++];
          switch (e) {
            case 'n':
              s += '\n';
              break;
            case 't':
              s += '\t';
              break;
            case 'r':
              s += '\r';
              break;
            case 'f':
              s += '\f';
              break;
            case 'u':
              return Unsupported("a \\u escape");
            default:
              s += e;
              break;  // \' \" \\ \/ \`
          }
          continue;
        }
        s += d;
      }
      tok_.kind = Tok::kString;
      tok_.text = std::move(s);
      return Status::Ok();
    }
    if (c == '%' || c == '$') {
      size_t start = ++pos_;
      while (pos_ < text_.size() &&
             (IsAlpha(text_[pos_]) || IsDigit(text_[pos_]) || text_[pos_] == '_'))
        ++pos_;
      tok_.kind = c == '%' ? Tok::kPercent : Tok::kDollar;
      tok_.text = std::string(text_.substr(start, pos_ - start));
      return Status::Ok();
    }
    if (c == '!' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '=') {
      tok_.kind = Tok::kOp;
      tok_.text = "!=";
      pos_ += 2;
      return Status::Ok();
    }
    if (std::strchr(".()[]|=,", c) != nullptr) {
      tok_.kind = Tok::kOp;
      tok_.text = std::string(1, c);
      ++pos_;
      return Status::Ok();
    }
    if (std::strchr("<>~+-*/&", c) != nullptr) {
      tok_.text = std::string(1, c);
      return Unsupported(std::string("operator '") + c + "'");
    }
    tok_.text = std::string(1, c);
    return Error(std::string("unexpected character '") + c + "'");
  }

  bool IsOp(std::string_view op) const { return tok_.kind == Tok::kOp && tok_.text == op; }
  bool IsKeyword(std::string_view kw) const { return tok_.kind == Tok::kIdent && tok_.text == kw; }

  Status Expect(std::string_view op) {
    if (!IsOp(op)) return Error("expected '" + std::string(op) + "'");
    return Advance();
  }

  static std::unique_ptr<Node> Binary(NodeKind kind, std::unique_ptr<Node> l,
                                      std::unique_ptr<Node> r) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->kids.push_back(std::move(l));
    n->kids.push_back(std::move(r));
    return n;
  }

  Result<std::unique_ptr<Node>> ParseOr() {
    ASSIGN_OR_RETURN(auto lhs, ParseAnd());
    while (IsKeyword("or") || IsKeyword("xor") || IsKeyword("implies")) {
      if (!IsKeyword("or")) return Unsupported("'" + tok_.text + "'");
      RETURN_IF_ERROR(Advance());
      ASSIGN_OR_RETURN(auto rhs, ParseAnd());
      lhs = Binary(NodeKind::kOr, std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  Result<std::unique_ptr<Node>> ParseAnd() {
    ASSIGN_OR_RETURN(auto lhs, ParseEquality());
    while (IsKeyword("and")) {
      RETURN_IF_ERROR(Advance());
      ASSIGN_OR_RETURN(auto rhs, ParseEquality());
      lhs = Binary(NodeKind::kAnd, std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  Result<std::unique_ptr<Node>> ParseEquality() {
    ASSIGN_OR_RETURN(auto lhs, ParseUnion());
    if (IsOp("=") || IsOp("!=")) {
      NodeKind kind = IsOp("=") ? NodeKind::kEq : NodeKind::kNe;
      RETURN_IF_ERROR(Advance());
      ASSIGN_OR_RETURN(auto rhs, ParseUnion());
      lhs = Binary(kind, std::move(lhs), std::move(rhs));
    }
    if (IsKeyword("in") || IsKeyword("contains")) return Unsupported("'" + tok_.text + "'");
    return lhs;
  }

  Result<std::unique_ptr<Node>> ParseUnion() {
    ASSIGN_OR_RETURN(auto first, ParseTypeExpr());
    if (!IsOp("|")) return first;
    auto u = std::make_unique<Node>();
    u->kind = NodeKind::kUnion;
    u->kids.push_back(std::move(first));
    while (IsOp("|")) {
      RETURN_IF_ERROR(Advance());
      ASSIGN_OR_RETURN(auto next, ParseTypeExpr());
      u->kids.push_back(std::move(next));
    }
    return u;
  }

  // A type specifier: Name or Namespace.Name; the namespace is dropped.
  Result<std::string> ParseTypeSpec() {
    if (tok_.kind != Tok::kIdent) return Error("expected a type name");
    std::string name = tok_.text;
    RETURN_IF_ERROR(Advance());
    if (IsOp(".") && (name == "FHIR" || name == "System")) {
      RETURN_IF_ERROR(Advance());
      if (tok_.kind != Tok::kIdent) return Error("expected a type name");
      name = tok_.text;
      RETURN_IF_ERROR(Advance());
    }
    return name;
  }

  static Step TypeStep(StepKind kind, std::string name) {
    Step s{kind, std::move(name)};
    s.type = LookupTypeName(s.name);
    if (s.type != nullptr) s.name = std::string(s.type->name);
    return s;
  }

  // Wraps `n` as a chain so steps can be appended.
  static std::unique_ptr<Node> AsChain(std::unique_ptr<Node> n) {
    if (n->kind == NodeKind::kChain) return n;
    auto c = std::make_unique<Node>();
    c->kind = NodeKind::kChain;
    c->kids.push_back(std::move(n));
    return c;
  }

  Result<std::unique_ptr<Node>> ParseTypeExpr() {
    ASSIGN_OR_RETURN(auto node, ParsePostfix());
    while (IsKeyword("as") || IsKeyword("is")) {
      StepKind kind = IsKeyword("as") ? StepKind::kAs : StepKind::kIs;
      RETURN_IF_ERROR(Advance());
      ASSIGN_OR_RETURN(std::string type, ParseTypeSpec());
      node = AsChain(std::move(node));
      node->steps.push_back(TypeStep(kind, std::move(type)));
    }
    return node;
  }

  Result<std::unique_ptr<Node>> ParsePostfix() {
    ASSIGN_OR_RETURN(auto node, ParseTerm());
    while (IsOp(".") || IsOp("[")) {
      if (IsOp(".")) {
        RETURN_IF_ERROR(Advance());
        if (tok_.kind != Tok::kIdent) return Error("expected a name after '.'");
        node = AsChain(std::move(node));
        RETURN_IF_ERROR(ParseInvocation(node.get(), /*at_start=*/false));
      } else {
        RETURN_IF_ERROR(Advance());
        if (tok_.kind != Tok::kNumber)
          return Unsupported("an indexer other than an integer literal");
        Step s{StepKind::kIndex, ""};
        s.index = std::stoul(tok_.text);
        RETURN_IF_ERROR(Advance());
        RETURN_IF_ERROR(Expect("]"));
        node = AsChain(std::move(node));
        node->steps.push_back(std::move(s));
      }
    }
    return node;
  }

  Result<std::unique_ptr<Node>> ParseTerm() {
    if (IsOp("(")) {
      RETURN_IF_ERROR(Advance());
      ASSIGN_OR_RETURN(auto inner, ParseOr());
      RETURN_IF_ERROR(Expect(")"));
      return inner;
    }
    auto n = std::make_unique<Node>();
    if (tok_.kind == Tok::kString || tok_.kind == Tok::kNumber || IsKeyword("true") ||
        IsKeyword("false")) {
      n->kind = NodeKind::kLiteral;
      if (tok_.kind == Tok::kString) {
        n->literal_text = tok_.text;
        n->literal = std::make_unique<Json>(
            rapidjson::StringRef(n->literal_text.data(), n->literal_text.size()));
        n->literal_type = "string";
      } else if (tok_.kind == Tok::kNumber) {
        n->literal = std::make_unique<Json>(static_cast<int64_t>(std::stoll(tok_.text)));
        n->literal_type = "integer";
      } else {
        n->literal = std::make_unique<Json>(tok_.text == "true");
        n->literal_type = "boolean";
      }
      RETURN_IF_ERROR(Advance());
      return n;
    }
    if (tok_.kind == Tok::kPercent) {
      if (tok_.text != "resource" && tok_.text != "rootResource" && tok_.text != "context") {
        return Unsupported("variable %" + tok_.text);
      }
      n->kind = tok_.text == "context" ? NodeKind::kThis : NodeKind::kResource;
      RETURN_IF_ERROR(Advance());
      return n;
    }
    if (tok_.kind == Tok::kDollar) {
      if (tok_.text != "this") return Unsupported("variable $" + tok_.text);
      n->kind = NodeKind::kThis;
      RETURN_IF_ERROR(Advance());
      return n;
    }
    if (tok_.kind == Tok::kIdent) {
      n->kind = NodeKind::kChain;
      n->implicit_focus = true;
      RETURN_IF_ERROR(ParseInvocation(n.get(), /*at_start=*/true));
      return n;
    }
    if (tok_.kind == Tok::kEnd) return Error("unexpected end of expression");
    return Error("unexpected '" + tok_.text + "'");
  }

  Result<std::string> ParseStringArg() {
    if (tok_.kind != Tok::kString) return Unsupported("a non-literal argument");
    std::string s = tok_.text;
    RETURN_IF_ERROR(Advance());
    return s;
  }

  // Parses an identifier or a function call at the current token and appends
  // its step(s) to `chain`.
  Status ParseInvocation(Node* chain, bool at_start) {
    std::string name = tok_.text;
    RETURN_IF_ERROR(Advance());
    if (!IsOp("(")) {
      if (at_start && IsUpper(name[0])) {
        chain->steps.push_back(Step{StepKind::kTypeFilter, std::move(name)});
      } else {
        chain->steps.push_back(Step{StepKind::kChild, std::move(name)});
      }
      return Status::Ok();
    }
    RETURN_IF_ERROR(Advance());  // '('
    auto no_args = [&](StepKind kind) -> Status {
      RETURN_IF_ERROR(Expect(")"));
      chain->steps.push_back(Step{kind, ""});
      return Status::Ok();
    };
    if (name == "where" || name == "exists") {
      if (name == "exists" && IsOp(")")) return no_args(StepKind::kExists);
      ASSIGN_OR_RETURN(auto pred, ParseOr());
      RETURN_IF_ERROR(Expect(")"));
      Step s{StepKind::kWhere, ""};
      s.predicate = std::move(pred);
      chain->steps.push_back(std::move(s));
      if (name == "exists") chain->steps.push_back(Step{StepKind::kExists, ""});
      return Status::Ok();
    }
    if (name == "as" || name == "ofType" || name == "is") {
      ASSIGN_OR_RETURN(std::string type, ParseTypeSpec());
      RETURN_IF_ERROR(Expect(")"));
      chain->steps.push_back(
          TypeStep(name == "is" ? StepKind::kIs : StepKind::kAs, std::move(type)));
      return Status::Ok();
    }
    if (name == "extension" || name == "hasExtension") {
      ASSIGN_OR_RETURN(std::string url, ParseStringArg());
      RETURN_IF_ERROR(Expect(")"));
      chain->steps.push_back(Step{
          name == "extension" ? StepKind::kExtension : StepKind::kHasExtension, std::move(url)});
      return Status::Ok();
    }
    if (name == "resolve") return no_args(StepKind::kResolve);
    if (name == "empty") return no_args(StepKind::kEmpty);
    if (name == "not") return no_args(StepKind::kNot);
    if (name == "first") return no_args(StepKind::kFirst);
    if (name == "last") return no_args(StepKind::kLast);
    return Unsupported("function " + name + "()");
  }

  std::string_view text_;
  size_t pos_ = 0;
  Token tok_;
};

std::string LeadingTypeOf(const Node& n) {
  switch (n.kind) {
    case NodeKind::kChain:
      if (n.implicit_focus) {
        if (!n.steps.empty() && n.steps[0].kind == StepKind::kTypeFilter) return n.steps[0].name;
        return "";
      }
      return LeadingTypeOf(*n.kids[0]);
    case NodeKind::kUnion: {
      std::string t = LeadingTypeOf(*n.kids[0]);
      for (const auto& k : n.kids) {
        if (LeadingTypeOf(*k) != t) return "";
      }
      return t;
    }
    case NodeKind::kEq:
    case NodeKind::kNe:
    case NodeKind::kAnd:
    case NodeKind::kOr: {
      std::string l = LeadingTypeOf(*n.kids[0]);
      std::string r = LeadingTypeOf(*n.kids[1]);
      return (r.empty() || r == l) ? l : "";
    }
    default:
      return "";
  }
}

// ---------------------------------------------------------------------------
// Evaluation

// Per-thread pool of scratch collections, so evaluation does not allocate
// once warm. Leases nest (where() inside a chain inside a union).
struct ScratchPool {
  std::vector<std::unique_ptr<std::vector<PathValue>>> vecs;
  size_t depth = 0;
};
thread_local ScratchPool tls_scratch;

class Scratch {
 public:
  Scratch() {
    ScratchPool& p = tls_scratch;
    if (p.depth == p.vecs.size()) p.vecs.push_back(std::make_unique<std::vector<PathValue>>());
    v_ = p.vecs[p.depth++].get();
    v_->clear();
  }
  ~Scratch() { --tls_scratch.depth; }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  std::vector<PathValue>* get() { return v_; }
  std::vector<PathValue>& operator*() { return *v_; }
  std::vector<PathValue>* operator->() { return v_; }

 private:
  std::vector<PathValue>* v_;
};

struct Ctx {
  const Json* resource;
  const FhirPath::Program* program;
};

std::string_view ResourceTypeOf(const Json& node) {
  if (!node.IsObject()) return {};
  auto it = node.FindMember("resourceType");
  if (it == node.MemberEnd() || !it->value.IsString()) return {};
  return AsView(it->value);
}

bool TypeMatches(const PathValue& v, const Step& s) {
  if (!v.type.empty()) {
    if (TypeNameMatches(v.type, s.name)) return true;
    if (IsBaseResourceName(s.name)) return !ResourceTypeOf(*v.node).empty();
    return false;
  }
  std::string_view rt = ResourceTypeOf(*v.node);
  if (!rt.empty()) return rt == s.name || IsBaseResourceName(s.name);
  // Type unknown (not reached through a choice suffix): decide by shape.
  bool is_object = v.node->IsObject();
  if (s.type != nullptr) return s.type->primitive ? !is_object : is_object;
  return is_object;
}

// resolve() without a store: the type the reference names.
std::string_view ResolveType(const Ctx& ctx, const PathValue& v) {
  const Json& n = *v.node;
  if (n.IsString()) return ReferenceType(AsView(n));
  if (!n.IsObject()) return {};
  std::string_view rt = ResourceTypeOf(n);
  if (!rt.empty()) return rt;
  std::string_view ref = StringMember(n, "reference");
  if (!ref.empty() && ref[0] == '#') {
    const Json* contained = Member(*ctx.resource, "contained");
    if (contained == nullptr || !contained->IsArray()) return {};
    std::string_view id = ref.substr(1);
    for (const Json& c : contained->GetArray()) {
      if (StringMember(c, "id") == id) return ResourceTypeOf(c);
    }
    return {};
  }
  std::string_view t = ReferenceType(ref);
  if (!t.empty()) return t;
  std::string_view type = StringMember(n, "type");
  if (!type.empty()) {
    size_t slash = type.rfind('/');
    return slash == std::string_view::npos ? type : type.substr(slash + 1);
  }
  return ctx.program->options.unresolved_reference_type;
}

void Eval(const Node& n, const Ctx& ctx, const PathValue& focus, std::vector<PathValue>* out);

// -1 empty (or not a single value), 0 false, 1 true: FHIRPath singleton
// evaluation of a collection as a boolean.
int Truth(const std::vector<PathValue>& c) {
  if (c.size() != 1) return -1;
  const Json& v = *c[0].node;
  if (v.IsBool()) return v.GetBool() ? 1 : 0;
  return 1;
}

bool PredicateTrue(const Node& pred, const Ctx& ctx, const PathValue& item) {
  Scratch s;
  Eval(pred, ctx, item, s.get());
  return Truth(*s) == 1;
}

void RunItemSteps(const Node& chain, const Ctx& ctx, size_t i, size_t end, const PathValue& item,
                  std::vector<PathValue>* out) {
  if (i == end) {
    out->push_back(item);
    return;
  }
  const Step& s = chain.steps[i];
  const Json& node = *item.node;
  switch (s.kind) {
    case StepKind::kTypeFilter: {
      // The root focus may come with its resource type already known.
      std::string_view rt =
          item.node == ctx.resource && !item.type.empty() ? item.type : ResourceTypeOf(node);
      if (!rt.empty() && (rt == s.name || IsBaseResourceName(s.name))) {
        RunItemSteps(chain, ctx, i + 1, end, PathValue{item.node, rt}, out);
      }
      return;
    }
    case StepKind::kChild: {
      if (!node.IsObject()) return;
      const size_t nlen = s.name.size();
      const char* name = s.name.data();
      for (auto m = node.MemberBegin(); m != node.MemberEnd(); ++m) {
        const size_t klen = m->name.GetStringLength();
        if (klen < nlen) continue;
        const char* key = m->name.GetString();
        // First and last characters before the full compare: most members
        // differ there, and memcmp through the PLT dominates otherwise.
        if (key[0] != name[0] || key[nlen - 1] != name[nlen - 1] ||
            std::memcmp(key + 1, name + 1, nlen - 1) != 0) {
          continue;
        }
        std::string_view type;
        if (klen != nlen) {
          if (!IsUpper(key[nlen])) continue;
          const TypeName* t = ChoiceType(std::string_view(key + nlen, klen - nlen));
          if (t == nullptr) continue;
          type = t->name;
        }
        if (m->value.IsArray()) {
          for (const Json& e : m->value.GetArray()) {
            RunItemSteps(chain, ctx, i + 1, end, PathValue{&e, type}, out);
          }
        } else if (!m->value.IsNull()) {
          RunItemSteps(chain, ctx, i + 1, end, PathValue{&m->value, type}, out);
        }
      }
      return;
    }
    case StepKind::kWhere:
      if (PredicateTrue(*s.predicate, ctx, item)) RunItemSteps(chain, ctx, i + 1, end, item, out);
      return;
    case StepKind::kAs:
      if (TypeMatches(item, s)) {
        PathValue v = item;
        if (v.type.empty()) v.type = s.name;
        RunItemSteps(chain, ctx, i + 1, end, v, out);
      }
      return;
    case StepKind::kIs:
      RunItemSteps(chain, ctx, i + 1, end, Bool(TypeMatches(item, s)), out);
      return;
    case StepKind::kExtension:
    case StepKind::kHasExtension: {
      bool found = false;
      if (node.IsObject()) {
        auto ext = node.FindMember("extension");
        if (ext != node.MemberEnd() && ext->value.IsArray()) {
          for (const Json& e : ext->value.GetArray()) {
            if (StringMember(e, "url") != s.name) continue;
            found = true;
            if (s.kind == StepKind::kExtension) {
              RunItemSteps(chain, ctx, i + 1, end, PathValue{&e, "Extension"}, out);
            }
          }
        }
      }
      if (s.kind == StepKind::kHasExtension) RunItemSteps(chain, ctx, i + 1, end, Bool(found), out);
      return;
    }
    case StepKind::kResolve: {
      std::string_view t = ResolveType(ctx, item);
      if (!t.empty()) RunItemSteps(chain, ctx, i + 1, end, PathValue{item.node, t}, out);
      return;
    }
    default:
      return;  // collection steps are handled by RunChain
  }
}

void ApplyCollectionStep(const Step& s, const std::vector<PathValue>& in,
                         std::vector<PathValue>* out) {
  switch (s.kind) {
    case StepKind::kExists:
      out->push_back(Bool(!in.empty()));
      return;
    case StepKind::kEmpty:
      out->push_back(Bool(in.empty()));
      return;
    case StepKind::kNot: {
      int t = Truth(in);
      if (t >= 0) out->push_back(Bool(t == 0));
      return;
    }
    case StepKind::kFirst:
      if (!in.empty()) out->push_back(in.front());
      return;
    case StepKind::kLast:
      if (!in.empty()) out->push_back(in.back());
      return;
    case StepKind::kIndex:
      if (s.index < in.size()) out->push_back(in[s.index]);
      return;
    default:
      return;
  }
}

void RunChain(const Node& chain, const Ctx& ctx, std::span<const PathValue> input, size_t from,
              std::vector<PathValue>* out) {
  size_t c = from;
  while (c < chain.steps.size() && !IsCollectionStep(chain.steps[c].kind)) ++c;
  if (c == chain.steps.size()) {
    for (const PathValue& v : input) RunItemSteps(chain, ctx, from, c, v, out);
    return;
  }
  Scratch before;
  for (const PathValue& v : input) RunItemSteps(chain, ctx, from, c, v, before.get());
  Scratch after;
  ApplyCollectionStep(chain.steps[c], *before, after.get());
  RunChain(chain, ctx, *after, c + 1, out);
}

bool SameValue(const PathValue& a, const PathValue& b) {
  return a.node == b.node || *a.node == *b.node;
}

void Eval(const Node& n, const Ctx& ctx, const PathValue& focus, std::vector<PathValue>* out) {
  switch (n.kind) {
    case NodeKind::kThis:
      out->push_back(focus);
      return;
    case NodeKind::kResource:
      out->push_back(PathValue{ctx.resource, ResourceTypeOf(*ctx.resource)});
      return;
    case NodeKind::kLiteral:
      out->push_back(PathValue{n.literal.get(), n.literal_type});
      return;
    case NodeKind::kChain:
      if (n.implicit_focus) {
        RunChain(n, ctx, std::span<const PathValue>(&focus, 1), 0, out);
      } else {
        Scratch base;
        Eval(*n.kids[0], ctx, focus, base.get());
        RunChain(n, ctx, *base, 0, out);
      }
      return;
    case NodeKind::kUnion: {
      // FHIRPath union removes duplicates (by identity here: the same element
      // reached through two branches).
      const size_t start = out->size();
      for (const auto& k : n.kids) {
        const size_t before = out->size();
        Eval(*k, ctx, focus, out);
        if (before == start) continue;
        size_t w = before;
        for (size_t r = before; r < out->size(); ++r) {
          bool dup = false;
          for (size_t j = start; j < before && !dup; ++j) dup = (*out)[j].node == (*out)[r].node;
          if (!dup) (*out)[w++] = (*out)[r];
        }
        out->resize(w);
      }
      return;
    }
    case NodeKind::kEq:
    case NodeKind::kNe: {
      Scratch l;
      Scratch r;
      Eval(*n.kids[0], ctx, focus, l.get());
      Eval(*n.kids[1], ctx, focus, r.get());
      if (l->empty() || r->empty()) return;
      bool eq = l->size() == r->size();
      for (size_t i = 0; eq && i < l->size(); ++i) eq = SameValue((*l)[i], (*r)[i]);
      out->push_back(Bool(n.kind == NodeKind::kEq ? eq : !eq));
      return;
    }
    case NodeKind::kAnd:
    case NodeKind::kOr: {
      Scratch l;
      Scratch r;
      Eval(*n.kids[0], ctx, focus, l.get());
      Eval(*n.kids[1], ctx, focus, r.get());
      int a = Truth(*l);
      int b = Truth(*r);
      if (n.kind == NodeKind::kAnd) {
        if (a == 0 || b == 0) {
          out->push_back(Bool(false));
        } else if (a == 1 && b == 1) {
          out->push_back(Bool(true));
        }
      } else {
        if (a == 1 || b == 1) {
          out->push_back(Bool(true));
        } else if (a == 0 && b == 0) {
          out->push_back(Bool(false));
        }
      }
      return;
    }
  }
}

}  // namespace

Result<FhirPath> FhirPath::Compile(std::string_view expression, const FhirPathOptions& options) {
  auto program = std::make_shared<Program>();
  program->expression = std::string(expression);
  program->options = options;
  Parser parser(program->expression);
  ASSIGN_OR_RETURN(program->root, parser.ParseAll());
  program->leading_type = LeadingTypeOf(*program->root);
  return FhirPath(std::move(program));
}

void FhirPath::Evaluate(const Json& resource, std::vector<PathValue>* out) const {
  EvaluateOn(resource, PathValue{&resource, {}}, out);
}

void FhirPath::EvaluateOn(const Json& resource, const PathValue& focus,
                          std::vector<PathValue>* out) const {
  Ctx ctx{&resource, program_.get()};
  Eval(*program_->root, ctx, focus, out);
}

const std::string& FhirPath::expression() const { return program_->expression; }

std::string_view FhirPath::LeadingType() const { return program_->leading_type; }

std::vector<std::string_view> FhirPath::SplitUnion(std::string_view expression) {
  std::vector<std::string_view> out;
  auto push = [&](std::string_view b) {
    while (!b.empty() && (b.front() == ' ' || b.front() == '\n' || b.front() == '\t'))
      b.remove_prefix(1);
    while (!b.empty() && (b.back() == ' ' || b.back() == '\n' || b.back() == '\t'))
      b.remove_suffix(1);
    out.push_back(b);
  };
  int depth = 0;
  bool in_string = false;
  size_t start = 0;
  for (size_t i = 0; i < expression.size(); ++i) {
    char c = expression[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '\'') {
        in_string = false;
      }
      continue;
    }
    if (c == '\'') {
      in_string = true;
    } else if (c == '(' || c == '[') {
      ++depth;
    } else if (c == ')' || c == ']') {
      --depth;
    } else if (c == '|' && depth == 0) {
      push(expression.substr(start, i - start));
      start = i + 1;
    }
  }
  push(expression.substr(start));
  return out;
}

std::string_view ReferenceType(std::string_view ref) {
  size_t q = ref.find('?');
  if (q != std::string_view::npos) {
    // Conditional reference "Patient?identifier=...".
    std::string_view t = ref.substr(0, q);
    size_t slash = t.rfind('/');
    if (slash != std::string_view::npos) t = t.substr(slash + 1);
    if (t.empty() || !IsUpper(t[0])) return {};
    for (char c : t) {
      if (!IsAlpha(c)) return {};
    }
    return t;
  }
  size_t h = ref.find("/_history/");
  if (h != std::string_view::npos) ref = ref.substr(0, h);
  size_t slash = ref.rfind('/');
  if (slash == std::string_view::npos || slash + 1 == ref.size()) return {};
  std::string_view rest = ref.substr(0, slash);
  size_t prev = rest.rfind('/');
  std::string_view type = prev == std::string_view::npos ? rest : rest.substr(prev + 1);
  if (type.empty() || !IsUpper(type[0])) return {};
  for (char c : type) {
    if (!IsAlpha(c)) return {};
  }
  return type;
}

}  // namespace lhcr::fhir
