// The fan-out chart is a well-formed SVG document with one line per transport that has figures,
// whatever text the report carries.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ipcmesh/bench/bench.hpp"

namespace ipcmesh::bench {
namespace {

// Well-formed XML as far as this writer can get it wrong: every element closed in order, one
// root, attribute values quoted, and no bare '<' or '&' in text. Returns an error or empty.
std::string xml_problem(const std::string& doc, std::string& root) {
  std::vector<std::string> open;
  std::size_t at = 0;
  bool seen_root = false;
  while (at < doc.size()) {
    const std::size_t lt = doc.find('<', at);
    const std::string text = doc.substr(at, lt == std::string::npos ? std::string::npos : lt - at);
    for (std::size_t amp = text.find('&'); amp != std::string::npos;
         amp = text.find('&', amp + 1)) {
      const std::string rest = text.substr(amp);
      if (rest.rfind("&amp;", 0) && rest.rfind("&lt;", 0) && rest.rfind("&gt;", 0) &&
          rest.rfind("&quot;", 0)) {
        return "bare & in text: " + text;
      }
    }
    if (lt == std::string::npos) break;
    const std::size_t gt = doc.find('>', lt);
    if (gt == std::string::npos) return "unterminated tag at " + std::to_string(lt);
    const std::string tag = doc.substr(lt + 1, gt - lt - 1);
    at = gt + 1;
    if (tag.empty()) return "empty tag";
    if (tag.front() == '?') continue;  // the XML declaration
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0) return "unbalanced quotes in <" + tag;
    if (tag.find('<') != std::string::npos) return "'<' inside a tag: " + tag;
    if (tag.front() == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) return "</" + name + "> closes nothing open";
      open.pop_back();
      continue;
    }
    const std::string name = tag.substr(0, tag.find_first_of(" \n/"));
    if (open.empty()) {
      if (seen_root) return "a second root element <" + name + ">";
      seen_root = true;
      root = name;
    }
    if (tag.back() != '/') open.push_back(name);
  }
  if (!open.empty()) return "<" + open.back() + "> never closed";
  if (!seen_root) return "no root element";
  return {};
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

nlohmann::json fanout_row(const std::string& transport, std::uint32_t producers,
                          std::uint32_t subscribers, nlohmann::json per_subscriber) {
  return {{"transport", transport},
          {"kind", producers > 1 ? "fan-in" : "fan-out"},
          {"producers", producers},
          {"subscribers", subscribers},
          {"status", per_subscriber.is_null() ? "not_run" : "ok"},
          {"per_subscriber_msgs_per_s", per_subscriber}};
}

nlohmann::json report_with(nlohmann::json rows) {
  return {{"date", "2026-12-02T03:00:00Z"},
          {"machine", {{"cpu_model", "Vendor <X> & Co \"fast\""}, {"nproc", 2}}},
          {"fanout", {{"enabled", true}, {"message_size", 64}, {"rows", std::move(rows)}}}};
}

TEST(FanoutChart, IsWellFormedSvgWithOneLinePerTransportThatHasFigures) {
  const auto report = report_with({
      fanout_row("ipcmesh-shm", 1, 1, 4.1e6), fanout_row("ipcmesh-shm", 1, 2, 2.0e6),
      fanout_row("ipcmesh-shm", 1, 4, 1.1e6), fanout_row("ipcmesh-shm", 1, 8, 0.5e6),
      fanout_row("ipcmesh-shm", 4, 1, 2.5e6),  // fan-in: not on the fan-out curve
      fanout_row("posix-mqueue", 1, 1, 380e3),
      fanout_row("posix-mqueue", 1, 2, nullptr),  // cannot fan out
      fanout_row("iceoryx", 1, 1, 390e3), fanout_row("iceoryx", 1, 8, 6.5e3),
      fanout_row("uds-seqpacket", 1, 1, nullptr),  // no figure at all: no line
  });
  const std::string svg = render_fanout_svg(report);
  std::string root;
  EXPECT_EQ(xml_problem(svg, root), "") << svg;
  EXPECT_EQ(root, "svg");
  EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_EQ(count(svg, "<polyline"), 3u) << svg;
  EXPECT_EQ(count(svg, "<circle"), 4u + 1u + 2u);  // one marker per figure
  // In the legend; a transport that could not fan out says so beside its single point.
  for (const char* name : {">ipcmesh-shm<", ">posix-mqueue (1 sub only)<", ">iceoryx<"}) {
    EXPECT_NE(svg.find(name), std::string::npos) << name;
  }
  EXPECT_EQ(svg.find("uds-seqpacket"), std::string::npos);
  EXPECT_NE(svg.find("Vendor &lt;X&gt; &amp; Co &quot;fast&quot;"), std::string::npos);
}

TEST(FanoutChart, SaysSoWhenTheReportHasNoFanOutFigures) {
  const std::string svg =
      render_fanout_svg(report_with({fanout_row("posix-mqueue", 1, 2, nullptr)}));
  std::string root;
  EXPECT_EQ(xml_problem(svg, root), "") << svg;
  EXPECT_EQ(count(svg, "<polyline"), 0u);
  EXPECT_NE(svg.find("no fan-out figures"), std::string::npos);
}

}  // namespace
}  // namespace ipcmesh::bench
