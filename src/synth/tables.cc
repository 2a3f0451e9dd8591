#include "synth/tables.h"

#include <array>
#include <string_view>

namespace lhcr::synth {
namespace {

constexpr Weighted kMaleClassic[] = {
    {"David", 420},   {"John", 400},        {"Michael", 330}, {"Paul", 300},    {"Andrew", 290},
    {"Peter", 250},   {"Richard", 230},     {"Mark", 230},    {"Stephen", 220}, {"Robert", 210},
    {"James", 210},   {"Christopher", 200}, {"Ian", 170},     {"Anthony", 160}, {"Steven", 150},
    {"William", 150}, {"Gary", 140},        {"Kevin", 130},   {"Brian", 130},   {"Alan", 130},
    {"Thomas", 120},  {"Martin", 120},      {"Simon", 120},   {"Jason", 110},   {"Keith", 100},
    {"Daniel", 100},  {"Matthew", 100},     {"Graham", 90},   {"Colin", 90},    {"Neil", 90},
    {"Philip", 90},   {"Kenneth", 80},      {"George", 80},   {"Darren", 80},   {"Lee", 70},
    {"Raymond", 70},  {"Nigel", 60},        {"Derek", 60},    {"Edward", 60},   {"Mohammed", 60},
    {"Dean", 50},     {"Trevor", 50},       {"Terence", 50},  {"Patrick", 40},  {"Frederick", 40},
    {"Dennis", 40},   {"Roy", 40},          {"Barry", 40},    {"Carl", 40},     {"Sanjay", 20},
};
constexpr Weighted kMaleModern[] = {
    {"Oliver", 300},    {"Jack", 290},    {"Harry", 270},    {"George", 240},  {"Jacob", 230},
    {"Charlie", 220},   {"Noah", 210},    {"Thomas", 200},   {"Oscar", 190},   {"William", 190},
    {"James", 180},     {"Leo", 170},     {"Muhammad", 170}, {"Joshua", 160},  {"Alfie", 160},
    {"Henry", 150},     {"Freddie", 140}, {"Archie", 140},   {"Ethan", 140},   {"Isaac", 130},
    {"Alexander", 130}, {"Joseph", 130},  {"Samuel", 120},   {"Daniel", 120},  {"Lewis", 110},
    {"Ryan", 110},      {"Luke", 100},    {"Callum", 100},   {"Matthew", 100}, {"Benjamin", 100},
    {"Adam", 90},       {"Liam", 90},     {"Max", 80},       {"Dylan", 80},    {"Mohammed", 80},
    {"Connor", 70},     {"Kyle", 60},     {"Jake", 60},      {"Reece", 50},    {"Arthur", 50},
};
constexpr Weighted kFemaleClassic[] = {
    {"Susan", 330},      {"Margaret", 320}, {"Sarah", 300},    {"Elizabeth", 280},
    {"Patricia", 250},   {"Karen", 250},    {"Julie", 240},    {"Helen", 230},
    {"Jacqueline", 200}, {"Linda", 200},    {"Mary", 200},     {"Joan", 180},
    {"Christine", 180},  {"Jennifer", 170}, {"Deborah", 170},  {"Janet", 160},
    {"Catherine", 160},  {"Nicola", 150},   {"Amanda", 150},   {"Lisa", 150},
    {"Alison", 140},     {"Claire", 140},   {"Michelle", 140}, {"Dorothy", 130},
    {"Barbara", 130},    {"Pauline", 120},  {"Angela", 120},   {"Tracey", 120},
    {"Gillian", 110},    {"Kathleen", 110}, {"Rachel", 110},   {"Emma", 100},
    {"Joanne", 100},     {"Valerie", 90},   {"Sandra", 90},    {"Anne", 90},
    {"Brenda", 80},      {"Maureen", 80},   {"Jean", 80},      {"Shirley", 70},
    {"Victoria", 70},    {"Louise", 70},    {"Rebecca", 60},   {"Wendy", 60},
    {"Fatima", 30},
};
constexpr Weighted kFemaleModern[] = {
    {"Olivia", 300},    {"Amelia", 290},   {"Emily", 270}, {"Isla", 240},   {"Ava", 230},
    {"Jessica", 220},   {"Isabella", 200}, {"Lily", 200},  {"Sophie", 190}, {"Grace", 180},
    {"Chloe", 180},     {"Poppy", 170},    {"Mia", 170},   {"Ella", 160},   {"Evie", 160},
    {"Charlotte", 150}, {"Hannah", 150},   {"Lucy", 150},  {"Sophia", 140}, {"Freya", 140},
    {"Ruby", 130},      {"Holly", 120},    {"Megan", 120}, {"Lauren", 120}, {"Rebecca", 110},
    {"Amy", 110},       {"Katie", 100},    {"Laura", 100}, {"Bethany", 90}, {"Chelsea", 80},
    {"Jade", 80},       {"Zara", 70},      {"Aisha", 70},  {"Maryam", 60},  {"Eleanor", 60},
    {"Georgia", 60},    {"Abigail", 50},   {"Daisy", 50},  {"Phoebe", 50},  {"Niamh", 40},
};
constexpr Weighted kSurnames[] = {
    {"Smith", 1260},   {"Jones", 750},     {"Williams", 550},   {"Taylor", 490},
    {"Brown", 480},    {"Davies", 450},    {"Evans", 350},      {"Wilson", 330},
    {"Thomas", 330},   {"Johnson", 320},   {"Roberts", 310},    {"Robinson", 270},
    {"Thompson", 270}, {"Wright", 260},    {"Walker", 250},     {"White", 240},
    {"Edwards", 240},  {"Hughes", 240},    {"Green", 240},      {"Hall", 230},
    {"Lewis", 230},    {"Harris", 230},    {"Clarke", 220},     {"Patel", 220},
    {"Jackson", 210},  {"Wood", 200},      {"Turner", 190},     {"Martin", 190},
    {"Cooper", 190},   {"Hill", 190},      {"Ward", 180},       {"Morris", 180},
    {"Moore", 170},    {"Clark", 170},     {"Lee", 170},        {"King", 170},
    {"Baker", 170},    {"Harrison", 160},  {"Morgan", 160},     {"Allen", 160},
    {"James", 160},    {"Scott", 150},     {"Phillips", 150},   {"Watson", 150},
    {"Davis", 150},    {"Parker", 140},    {"Price", 140},      {"Bennett", 140},
    {"Young", 140},    {"Griffiths", 140}, {"Mitchell", 140},   {"Kelly", 140},
    {"Cook", 130},     {"Carter", 130},    {"Richardson", 130}, {"Bailey", 130},
    {"Collins", 130},  {"Bell", 130},      {"Shaw", 130},       {"Murphy", 130},
    {"Miller", 130},   {"Cox", 120},       {"Richards", 120},   {"Khan", 120},
    {"Marshall", 120}, {"Anderson", 120},  {"Simpson", 120},    {"Ellis", 120},
    {"Adams", 110},    {"Singh", 110},     {"Begum", 110},      {"Wilkinson", 110},
    {"Foster", 110},   {"Chapman", 110},   {"Powell", 110},     {"Webb", 110},
    {"Rogers", 110},   {"Gray", 110},      {"Mason", 110},      {"Ali", 110},
    {"Hunt", 100},     {"Hussain", 100},   {"Campbell", 100},   {"Matthews", 100},
    {"Owen", 100},     {"Palmer", 100},    {"Holmes", 100},     {"Mills", 100},
    {"Barnes", 100},   {"Knight", 100},    {"Lloyd", 100},      {"Butler", 100},
    {"Russell", 100},  {"Barker", 100},    {"Fisher", 100},     {"Stevens", 100},
    {"Jenkins", 100},  {"Murray", 100},    {"Dixon", 100},      {"O'Brien", 90},
    {"Nowak", 40},     {"Kowalski", 30},   {"Nguyen", 20},      {"Okafor", 20},
    {"Ahmed", 90},
};

struct NickPair {
  std::string_view given, nick;
};
constexpr NickPair kNicknames[] = {
    {"William", "Bill"},     {"Robert", "Bob"},        {"Richard", "Dick"},
    {"Michael", "Mike"},     {"Christopher", "Chris"}, {"Anthony", "Tony"},
    {"Stephen", "Steve"},    {"Steven", "Steve"},      {"Thomas", "Tom"},
    {"James", "Jim"},        {"Daniel", "Dan"},        {"Matthew", "Matt"},
    {"Alexander", "Alex"},   {"Joseph", "Joe"},        {"Samuel", "Sam"},
    {"Benjamin", "Ben"},     {"Edward", "Ted"},        {"Frederick", "Fred"},
    {"Kenneth", "Ken"},      {"Terence", "Terry"},     {"Raymond", "Ray"},
    {"Philip", "Phil"},      {"Patrick", "Pat"},       {"Andrew", "Andy"},
    {"Peter", "Pete"},       {"David", "Dave"},        {"Elizabeth", "Liz"},
    {"Margaret", "Maggie"},  {"Patricia", "Pat"},      {"Jennifer", "Jenny"},
    {"Catherine", "Kate"},   {"Deborah", "Debbie"},    {"Jacqueline", "Jackie"},
    {"Susan", "Sue"},        {"Christine", "Chris"},   {"Kathleen", "Kath"},
    {"Rebecca", "Becky"},    {"Victoria", "Vicky"},    {"Gillian", "Gill"},
    {"Nicola", "Nicky"},     {"Dorothy", "Dot"},       {"Barbara", "Babs"},
    {"Charlotte", "Lottie"}, {"Eleanor", "Ellie"},     {"Isabella", "Bella"},
    {"Abigail", "Abbie"},    {"Alison", "Ali"},        {"Amanda", "Mandy"},
};

constexpr uint32_t kPyramid[] = {54, 59, 60, 57, 60, 66, 68, 66, 62, 63,
                                 69, 67, 58, 50, 50, 37, 26, 16, 9,  3};

constexpr District kDistricts[] = {
    {"M1", "Manchester", 0},  {"M4", "Manchester", 0},  {"M8", "Manchester", 1},
    {"M9", "Manchester", 1},  {"M11", "Manchester", 2}, {"M12", "Manchester", 2},
    {"M13", "Manchester", 3}, {"M14", "Manchester", 3}, {"M15", "Manchester", 4},
    {"M16", "Manchester", 4}, {"M19", "Manchester", 5}, {"M20", "Manchester", 5},
    {"M21", "Manchester", 6}, {"M22", "Manchester", 6}, {"M23", "Manchester", 7},
    {"M40", "Manchester", 7}, {"M32", "Stretford", 8},  {"M33", "Sale", 8},
    {"M41", "Urmston", 9},    {"SK4", "Stockport", 10}, {"SK5", "Stockport", 10},
    {"M34", "Denton", 11},    {"M43", "Droylsden", 11}, {"M18", "Manchester", 2},
};

constexpr std::string_view kStreets[] = {
    "Oak",      "Victoria", "Church",      "Station",  "Park",       "Mill",      "Albert",
    "Princess", "Wilmslow", "Stockport",   "Ashton",   "Oldham",     "Chester",   "Moss",
    "Lime",     "Beech",    "Elm",         "Cedar",    "Birch",      "Hawthorn",  "Clarence",
    "Cromwell", "Granby",   "Dale",        "Hillside", "Meadow",     "Brook",     "Kingsway",
    "Palatine", "Burton",   "Ladybarn",    "Mauldeth", "Parrs Wood", "Egerton",   "Queens",
    "Kings",    "Mayfield", "Regent",      "Worsley",  "Cross",      "Lever",     "Peel",
    "Hulme",    "Rusholme", "Fallowfield", "Clayton",  "Gorton",     "Longsight", "Ardwick",
};
constexpr std::string_view kSuffixes[] = {"Street", "Road",  "Lane", "Avenue",  "Close",
                                          "Grove",  "Drive", "Way",  "Terrace", "Crescent"};

constexpr Organisation kPractices[] = {
    {"gp-y90001", "Y90001", "Piccadilly Medical Centre", SourceKind::kGp, SourceFormat::kFhir,
     0.95},
    {"gp-y90002", "Y90002", "Cheetham Hill Surgery", SourceKind::kGp, SourceFormat::kFhir, 0.95},
    {"gp-y90003", "Y90003", "Gorton Park Practice", SourceKind::kGp, SourceFormat::kFhir, 0.95},
    {"gp-y90004", "Y90004", "Rusholme Health Centre", SourceKind::kGp, SourceFormat::kFhir, 0.95},
    {"gp-y90005", "Y90005", "Hulme Medical Practice", SourceKind::kGp, SourceFormat::kFhir, 0.95},
    {"gp-y90006", "Y90006", "Didsbury Road Surgery", SourceKind::kGp, SourceFormat::kFhir, 0.95},
    {"gp-y90007", "Y90007", "Chorlton Family Practice", SourceKind::kGp, SourceFormat::kFhir, 0.95},
    {"gp-y90008", "Y90008", "Wythenshawe Health Care Centre", SourceKind::kGp, SourceFormat::kFhir,
     0.95},
    {"gp-y90009", "Y90009", "Sale Moor Surgery", SourceKind::kGp, SourceFormat::kFhir, 0.95},
    {"gp-y90010", "Y90010", "Urmston Group Practice", SourceKind::kGp, SourceFormat::kFhir, 0.95},
    {"gp-y90011", "Y90011", "Heaton Moor Medical Group", SourceKind::kGp, SourceFormat::kFhir,
     0.95},
    {"gp-y90012", "Y90012", "Denton Medical Practice", SourceKind::kGp, SourceFormat::kFhir, 0.95},
};
constexpr Organisation kAcute = {
    "acute-r9a",          "R9A", "Northshire Hospitals NHS Foundation Trust", SourceKind::kAcute,
    SourceFormat::kHl7v2, 0.85};
constexpr Organisation kAcuteMedicines = {"acute-r9a-epma",
                                          "R9A",
                                          "Northshire Hospitals NHS Foundation Trust EPMA",
                                          SourceKind::kAcute,
                                          SourceFormat::kFhir,
                                          0.85};
constexpr Organisation kCommunity = {
    "community-r9c",     "R9C", "Northshire Community Health NHS Trust", SourceKind::kCommunity,
    SourceFormat::kFhir, 0.8};
constexpr Organisation kMentalHealth = {"mh-r9m",
                                        "R9M",
                                        "Northshire Mental Health NHS Trust",
                                        SourceKind::kMentalHealth,
                                        SourceFormat::kHl7v2,
                                        0.75};
constexpr Organisation kLocalAuthority = {
    "la-x99",           "X99", "Northshire City Council Adult Social Care", SourceKind::kSocialCare,
    SourceFormat::kCsv, 0.6};

}  // namespace

std::span<const Weighted> MaleNames(bool classic) {
  return classic ? std::span<const Weighted>(kMaleClassic) : std::span<const Weighted>(kMaleModern);
}
std::span<const Weighted> FemaleNames(bool classic) {
  return classic ? std::span<const Weighted>(kFemaleClassic)
                 : std::span<const Weighted>(kFemaleModern);
}
std::span<const Weighted> Surnames() { return kSurnames; }
std::string_view Nickname(std::string_view given) {
  for (const NickPair& p : kNicknames) {
    if (p.given == given) return p.nick;
  }
  return {};
}
std::span<const uint32_t> AgePyramidPer1000() { return kPyramid; }
std::span<const District> Districts() { return kDistricts; }
std::span<const std::string_view> StreetNames() { return kStreets; }
std::span<const std::string_view> StreetSuffixes() { return kSuffixes; }
std::span<const Organisation> GpPractices() { return kPractices; }
const Organisation& AcuteTrust() { return kAcute; }
const Organisation& AcuteMedicines() { return kAcuteMedicines; }
const Organisation& CommunityTrust() { return kCommunity; }
const Organisation& MentalHealthTrust() { return kMentalHealth; }
const Organisation& LocalAuthority() { return kLocalAuthority; }

std::string_view KindName(SourceKind k) {
  switch (k) {
    case SourceKind::kGp:
      return "gp";
    case SourceKind::kAcute:
      return "acute";
    case SourceKind::kCommunity:
      return "community";
    case SourceKind::kMentalHealth:
      return "mental-health";
    case SourceKind::kSocialCare:
      return "social-care";
  }
  return "";
}
std::string_view FormatName(SourceFormat f) {
  switch (f) {
    case SourceFormat::kFhir:
      return "fhir";
    case SourceFormat::kHl7v2:
      return "hl7v2";
    case SourceFormat::kCsv:
      return "csv";
  }
  return "";
}

}  // namespace lhcr::synth
