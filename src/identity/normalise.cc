#include "identity/normalise.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace lhcr::identity {
namespace {

// Folds the Latin-1 letter U+00C0 + (offset & 0x1F) (upper and lower case
// share a row) to ASCII; `offset` is the second UTF-8 byte minus 0x80.
std::string FoldLatin1(unsigned offset) {
  static constexpr std::string_view kRow = "aaaaaa_ceeeeiiiidnooooo ouuuuy__";
  unsigned i = offset & 0x1F;
  if (i == 6) return "ae";
  if (i == 30) return "th";
  if (i == 31) return offset == 0x1F ? "ss" : "y";
  return std::string(1, kRow[i]);
}

// Lower-cases ASCII, folds accents, and maps everything that is not a letter
// or digit to `other`, except that hyphens and apostrophes are dropped when
// join_hyphens is set.
std::string Fold(std::string_view in, bool join_hyphens) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == 0xC3 && i + 1 < in.size()) {
      unsigned char second = static_cast<unsigned char>(in[++i]);
      if (second >= 0x80 && second <= 0xBF) out += FoldLatin1(second - 0x80u);
      continue;
    }
    if (c >= 0x80) continue;  // other non-ASCII bytes carry no matching value
    if (std::isalnum(c)) {
      out += static_cast<char>(std::tolower(c));
    } else if (join_hyphens && (c == '-' || c == '\'' || c == '`')) {
      // "smith-jones" and "smithjones" are the same name to a clerk.
    } else {
      out += ' ';
    }
  }
  return out;
}

std::vector<std::string> Words(const std::string& s) {
  std::vector<std::string> words;
  std::string cur;
  for (char c : s) {
    if (c == ' ') {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

const std::unordered_set<std::string>& Titles() {
  static const auto* kTitles = new std::unordered_set<std::string>{
      "mr",   "mrs",  "miss", "ms", "mx", "dr", "prof", "rev", "revd",  "sir",
      "dame", "lady", "lord", "fr", "sr", "jr", "snr",  "jnr", "master"};
  return *kTitles;
}

const std::unordered_set<std::string>& Particles() {
  static const auto* kParticles = new std::unordered_set<std::string>{
      "van", "von", "der", "den", "de", "da", "di", "du", "la", "le", "del", "st", "mac", "mc"};
  return *kParticles;
}

// Compact British nickname table: nickname -> formal name. Sources: common
// usage lists (e.g. the UK Behind the Name diminutive lists); deliberately
// small and unambiguous-ish, since a wrong nickname only moves a pair to the
// "nickname" comparison level, whose weight EM learns from the data.
const std::unordered_map<std::string, std::string>& Nicknames() {
  static const auto* kMap = new std::unordered_map<std::string, std::string>{
      {"abby", "abigail"},       {"alf", "alfred"},         {"alfie", "alfred"},
      {"alec", "alexander"},     {"alex", "alexander"},     {"sandy", "alexander"},
      {"andy", "andrew"},        {"drew", "andrew"},        {"annie", "ann"},
      {"anne", "ann"},           {"anna", "ann"},           {"nan", "ann"},
      {"nancy", "ann"},          {"archie", "archibald"},   {"bart", "bartholomew"},
      {"ben", "benjamin"},       {"benny", "benjamin"},     {"bert", "albert"},
      {"bertie", "albert"},      {"bess", "elizabeth"},     {"bessie", "elizabeth"},
      {"beth", "elizabeth"},     {"betty", "elizabeth"},    {"betsy", "elizabeth"},
      {"eliza", "elizabeth"},    {"liz", "elizabeth"},      {"lizzie", "elizabeth"},
      {"lizzy", "elizabeth"},    {"libby", "elizabeth"},    {"elsie", "elizabeth"},
      {"bill", "william"},       {"billy", "william"},      {"will", "william"},
      {"willy", "william"},      {"liam", "william"},       {"bob", "robert"},
      {"bobby", "robert"},       {"rob", "robert"},         {"robbie", "robert"},
      {"cathy", "catherine"},    {"kate", "catherine"},     {"katie", "catherine"},
      {"kathy", "catherine"},    {"kath", "catherine"},     {"katherine", "catherine"},
      {"kathryn", "catherine"},  {"kitty", "catherine"},    {"charlie", "charles"},
      {"chas", "charles"},       {"chuck", "charles"},      {"chris", "christopher"},
      {"kit", "christopher"},    {"dan", "daniel"},         {"danny", "daniel"},
      {"dave", "david"},         {"davy", "david"},         {"dai", "david"},
      {"di", "diana"},           {"dick", "richard"},       {"rick", "richard"},
      {"ricky", "richard"},      {"rich", "richard"},       {"richie", "richard"},
      {"don", "donald"},         {"ed", "edward"},          {"eddie", "edward"},
      {"ted", "edward"},         {"teddy", "edward"},       {"ned", "edward"},
      {"ellie", "eleanor"},      {"nell", "eleanor"},       {"nellie", "eleanor"},
      {"fred", "frederick"},     {"freddie", "frederick"},  {"freddy", "frederick"},
      {"frank", "francis"},      {"fran", "frances"},       {"gerry", "gerald"},
      {"geoff", "geoffrey"},     {"greg", "gregory"},       {"harry", "henry"},
      {"hal", "henry"},          {"hank", "henry"},         {"jack", "john"},
      {"johnny", "john"},        {"jon", "john"},           {"jim", "james"},
      {"jimmy", "james"},        {"jamie", "james"},        {"jen", "jennifer"},
      {"jenny", "jennifer"},     {"jess", "jessica"},       {"jessie", "jessica"},
      {"jo", "joanne"},          {"joe", "joseph"},         {"joey", "joseph"},
      {"jos", "joseph"},         {"ken", "kenneth"},        {"kenny", "kenneth"},
      {"larry", "lawrence"},     {"laurence", "lawrence"},  {"len", "leonard"},
      {"lenny", "leonard"},      {"leo", "leonard"},        {"maggie", "margaret"},
      {"meg", "margaret"},       {"peggy", "margaret"},     {"maisie", "margaret"},
      {"madge", "margaret"},     {"marge", "margaret"},     {"molly", "mary"},
      {"polly", "mary"},         {"mandy", "amanda"},       {"matt", "matthew"},
      {"mattie", "matthew"},     {"mick", "michael"},       {"mickey", "michael"},
      {"mike", "michael"},       {"mikey", "michael"},      {"nick", "nicholas"},
      {"nicky", "nicholas"},     {"nat", "nathaniel"},      {"ollie", "oliver"},
      {"pat", "patrick"},        {"paddy", "patrick"},      {"pete", "peter"},
      {"phil", "philip"},        {"phillip", "philip"},     {"pip", "philip"},
      {"reg", "reginald"},       {"reggie", "reginald"},    {"ron", "ronald"},
      {"ronnie", "ronald"},      {"sam", "samuel"},         {"sammy", "samuel"},
      {"sally", "sarah"},        {"sara", "sarah"},         {"steve", "stephen"},
      {"stevie", "stephen"},     {"steven", "stephen"},     {"sue", "susan"},
      {"susie", "susan"},        {"tom", "thomas"},         {"tommy", "thomas"},
      {"tony", "anthony"},       {"terry", "terence"},      {"tim", "timothy"},
      {"timmy", "timothy"},      {"vicky", "victoria"},     {"vic", "victor"},
      {"wally", "walter"},       {"walt", "walter"},        {"zach", "zachary"},
      {"zak", "zachary"},        {"becky", "rebecca"},      {"bex", "rebecca"},
      {"debbie", "deborah"},     {"deb", "deborah"},        {"dot", "dorothy"},
      {"dolly", "dorothy"},      {"dottie", "dorothy"},     {"gill", "gillian"},
      {"jill", "gillian"},       {"hattie", "harriet"},     {"jackie", "jacqueline"},
      {"josie", "josephine"},    {"lottie", "charlotte"},   {"lou", "louise"},
      {"lulu", "louise"},        {"mo", "maureen"},         {"nikki", "nicola"},
      {"pam", "pamela"},         {"penny", "penelope"},     {"rosie", "rose"},
      {"sadie", "sarah"},        {"sandra", "alexandra"},   {"sasha", "alexandra"},
      {"tess", "teresa"},        {"tessa", "teresa"},       {"theresa", "teresa"},
      {"trish", "patricia"},     {"tricia", "patricia"},    {"patsy", "patricia"},
      {"val", "valerie"},        {"wendy", "gwendolen"},    {"cath", "catherine"},
      {"fi", "fiona"},           {"em", "emily"},           {"emmy", "emily"},
      {"izzy", "isabel"},        {"isabelle", "isabel"},    {"isobel", "isabel"},
      {"bella", "isabel"},       {"taff", "david"},         {"jock", "john"},
      {"ian", "john"},           {"sean", "john"},          {"shaun", "john"},
      {"evan", "john"},          {"hamish", "james"},       {"seamus", "james"},
      {"bertha", "albertha"},    {"gus", "augustus"},       {"stu", "stuart"},
      {"stewart", "stuart"},     {"rupe", "rupert"},        {"allan", "alan"},
      {"allen", "alan"},         {"callum", "malcolm"},     {"mal", "malcolm"},
      {"rhys", "rhys"},          {"rees", "rhys"},          {"reece", "rhys"},
      {"dom", "dominic"},        {"jake", "jacob"},         {"josh", "joshua"},
      {"luke", "lucas"},         {"lachie", "lachlan"},     {"mitch", "mitchell"},
      {"nate", "nathan"},        {"seb", "sebastian"},      {"theo", "theodore"},
      {"toby", "tobias"},        {"xander", "alexander"},   {"abbie", "abigail"},
      {"chloe", "chloe"},        {"gabby", "gabrielle"},    {"georgie", "georgia"},
      {"maddie", "madeleine"},   {"madison", "madeleine"},  {"millie", "amelia"},
      {"milly", "amelia"},       {"mia", "amelia"},         {"steph", "stephanie"},
      {"tash", "natasha"},       {"natalie", "natalia"},    {"bel", "isabel"},
      {"olly", "oliver"},        {"lexi", "alexandra"},     {"ali", "alison"},
      {"allie", "alison"},       {"jodie", "judith"},       {"judy", "judith"},
      {"trudy", "gertrude"},     {"winnie", "winifred"},    {"freda", "winifred"},
      {"connie", "constance"},   {"flo", "florence"},       {"flossie", "florence"},
      {"ginny", "virginia"},     {"greta", "margaret"},     {"rita", "margaret"},
      {"daisy", "margaret"},     {"ruthie", "ruth"},        {"cassie", "cassandra"},
      {"bea", "beatrice"},       {"trixie", "beatrice"},    {"kim", "kimberley"},
      {"kimberly", "kimberley"}, {"lynn", "linda"},         {"mel", "melanie"},
      {"tina", "christina"},     {"chrissie", "christine"}, {"kirsty", "christine"},
      {"kirsten", "christine"},  {"kristen", "christine"},  {"christina", "christine"}};
  return *kMap;
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

}  // namespace

std::string NormaliseName(std::string_view name) {
  std::vector<std::string> words = Words(Fold(name, /*join_hyphens=*/true));
  std::vector<std::string> kept;
  for (size_t i = 0; i < words.size(); ++i) {
    if (Titles().count(words[i]) != 0 && words.size() > 1) continue;
    if (Particles().count(words[i]) != 0 && i + 1 < words.size()) {
      words[i + 1] = words[i] + words[i + 1];
      continue;
    }
    kept.push_back(words[i]);
  }
  // Names compare as one token: "mary ann" and "maryann" are one name.
  std::string out;
  for (const auto& w : kept) out += w;
  return out;
}

std::string CanonicalGivenName(const std::string& normalised_given) {
  auto it = Nicknames().find(normalised_given);
  return it == Nicknames().end() ? normalised_given : it->second;
}

std::string NormaliseAddress(std::string_view text) {
  static const auto* kAbbrev = new std::unordered_map<std::string, std::string>{
      {"rd", "road"},       {"st", "street"}, {"ave", "avenue"},     {"av", "avenue"},
      {"cres", "crescent"}, {"cl", "close"},  {"ct", "court"},       {"dr", "drive"},
      {"ln", "lane"},       {"pl", "place"},  {"sq", "square"},      {"tce", "terrace"},
      {"gdns", "gardens"},  {"gr", "grove"},  {"hwy", "highway"},    {"pde", "parade"},
      {"flt", "flat"},      {"apt", "flat"},  {"apartment", "flat"}, {"vlge", "village"}};
  std::vector<std::string> words = Words(Fold(text, /*join_hyphens=*/false));
  for (auto& w : words) {
    auto it = kAbbrev->find(w);
    if (it != kAbbrev->end()) w = it->second;
  }
  return Join(words);
}

std::string NormalisePostcode(std::string_view postcode) {
  std::string out;
  for (char c : postcode) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

PostcodeParts SplitPostcode(const std::string& pc) {
  PostcodeParts parts;
  // UK: outward code (2-4 chars, starts with a letter) + inward (digit, 2 letters).
  if (pc.size() < 5 || pc.size() > 7) return parts;
  auto is_alpha = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
  auto is_digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  size_t n = pc.size();
  if (!is_digit(pc[n - 3]) || !is_alpha(pc[n - 2]) || !is_alpha(pc[n - 1]) || !is_alpha(pc[0])) {
    return parts;
  }
  std::string outward = pc.substr(0, n - 3);
  size_t a = 0;
  while (a < outward.size() && is_alpha(outward[a])) ++a;
  if (a == 0 || a > 2 || a == outward.size()) return parts;
  parts.uk = true;
  parts.area = outward.substr(0, a);
  parts.district = outward;
  parts.sector = outward + " " + pc.substr(n - 3, 1);
  return parts;
}

std::string DigitsOnly(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))) out += c;
  }
  return out;
}

bool IsValidNhsNumber(const std::string& d) {
  if (d.size() != 10) return false;
  for (char c : d) {
    if (c < '0' || c > '9') return false;
  }
  if (std::all_of(d.begin(), d.end(), [&](char c) { return c == d[0]; })) return false;
  if (d == "0123456789") return false;
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (d[i] - '0') * (10 - i);
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  if (check == 10) return false;
  return check == d[9] - '0';
}

std::string Soundex(std::string_view name) {
  static constexpr std::string_view kCodes = "01230120022455012623010202";  // a..z
  std::string out;
  char last = 0;
  for (char raw : name) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(raw)));
    if (c < 'a' || c > 'z') continue;
    char code = kCodes[c - 'a'];
    if (out.empty()) {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      last = code;
      continue;
    }
    if (c == 'h' || c == 'w') continue;  // do not separate equal codes
    if (code != '0' && code != last) out += code;
    last = code;
    if (out.size() == 4) break;
  }
  if (out.empty()) return out;
  while (out.size() < 4) out += '0';
  return out;
}

std::string NormaliseEmail(std::string_view email) {
  std::string out;
  for (char c : email) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isspace(u)) continue;
    out += static_cast<char>(std::tolower(u));
  }
  return out;
}

}  // namespace lhcr::identity
