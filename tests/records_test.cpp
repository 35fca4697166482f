// Record readers: every input format's positive cases and every error case,
// with the messages users will see; plus the streaming guarantee.
#include <gtest/gtest.h>

#include <sstream>
#include <streambuf>

#include "cloze/error.h"
#include "cloze/records.h"

using cloze::Record;
using cloze::RecordFormat;
using cloze::RecordOptions;
using cloze::RecordReader;

namespace {

std::vector<Record> read_all(const std::string& data, RecordFormat format,
                             const RecordOptions& options = {}) {
  std::istringstream in(data);
  auto reader = RecordReader::from_stream(in, "in", format, options);
  std::vector<Record> out;
  Record r;
  while (reader->next(r)) out.push_back(r);
  return out;
}

// The message of the cloze::Error that `f` throws, or "" if it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const cloze::Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

}  // namespace

// ------------------------------------------------------------------ UTF-8

TEST(RecordUtf8, AcceptsWellFormed) {
  EXPECT_TRUE(cloze::valid_utf8(""));
  EXPECT_TRUE(cloze::valid_utf8("plain ascii"));
  EXPECT_TRUE(cloze::valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
  EXPECT_TRUE(cloze::valid_utf8("\xef\xbb\x80"));  // U+FEC0: starts like a BOM, is not one
}

TEST(RecordUtf8, RejectsMalformedAtTheRightOffset) {
  const std::pair<std::string, size_t> cases[] = {
      {"ab\x80", 2},                // lone continuation byte
      {"a\xc0\x80", 1},             // overlong NUL
      {"\xe0\x80\x80", 0},          // overlong 3-byte
      {"xy\xed\xa0\x80", 2},        // UTF-16 surrogate
      {"\xf4\x90\x80\x80", 0},      // above U+10FFFF
      {"\xf5\x80\x80\x80", 0},      // invalid lead byte
      {"abc\xe2\x82", 3},           // truncated at the end
      {"\xc3\xa9\xc3(", 2},         // continuation missing
  };
  for (const auto& [s, offset] : cases) {
    size_t bad = 99;
    EXPECT_FALSE(cloze::valid_utf8(s, &bad)) << s;
    EXPECT_EQ(bad, offset) << s;
  }
}

// ------------------------------------------------------------------ formats

TEST(RecordFormat, FromPathAndName) {
  EXPECT_EQ(cloze::format_from_path("a.txt"), RecordFormat::Text);
  EXPECT_EQ(cloze::format_from_path("dir.v2/a.JSONL"), RecordFormat::Jsonl);
  EXPECT_EQ(cloze::format_from_path("a.json"), RecordFormat::Jsonl);
  EXPECT_EQ(cloze::format_from_path("a.csv"), RecordFormat::Csv);
  EXPECT_EQ(cloze::format_from_path("a.tsv"), RecordFormat::Tsv);
  EXPECT_EQ(cloze::format_from_path("-"), RecordFormat::Text);
  EXPECT_EQ(cloze::format_from_path("noext"), RecordFormat::Text);
  EXPECT_EQ(cloze::parse_record_format("TSV"), RecordFormat::Tsv);
  EXPECT_HAS(error_of([] { cloze::parse_record_format("xml"); }), "text, jsonl, csv, tsv");
}

// ------------------------------------------------------------------ text

TEST(RecordText, OneRecordPerLineEmptyLinesAreErrors) {
  const auto rs = read_all("first\r\nsecond\n\nlast", RecordFormat::Text);
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[0].text, "first");
  EXPECT_EQ(rs[1].text, "second");
  EXPECT_EQ(rs[1].line, 2u);
  EXPECT_EQ(rs[2].error, "in:3: empty text");
  EXPECT_EQ(rs[3].text, "last");
  EXPECT_EQ(rs[3].index, 3u);
  EXPECT_EQ(rs[3].line, 4u);
  for (size_t i : {0, 1, 3}) EXPECT_EQ(rs[i].error, "");
  EXPECT_FALSE(rs[0].id || rs[0].label);
}

TEST(RecordText, EmptyInputAndTrailingNewline) {
  EXPECT_TRUE(read_all("", RecordFormat::Text).empty());
  EXPECT_EQ(read_all("a\nb\n", RecordFormat::Text).size(), 2u);
}

TEST(RecordText, BomIsSkippedButLookalikeIsKept) {
  auto rs = read_all("\xef\xbb\xbfhello", RecordFormat::Text);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].text, "hello");
  rs = read_all("\xef\xbb\x80x", RecordFormat::Text);  // U+FEC0 then x
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].text, "\xef\xbb\x80x");
}

TEST(RecordText, InvalidUtf8NamesTheOffset) {
  const auto rs = read_all("ok\nab\xff\n", RecordFormat::Text);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].error, "");
  EXPECT_HAS(rs[1].error, "in:2: text is not valid UTF-8");
  EXPECT_HAS(rs[1].error, "0xFF at byte offset 2");
}

TEST(RecordText, FixtureFile) {
  const std::string path = CLOZE_FIXTURES "/records/reviews.txt";
  auto reader = RecordReader::open(path, cloze::format_from_path(path));
  Record r;
  std::vector<std::string> texts;
  while (reader->next(r)) texts.push_back(r.error.empty() ? r.text : "ERR");
  EXPECT_EQ(texts, (std::vector<std::string>{"first review", "second review", "ERR",
                                             "last, without newline"}));
}

// ------------------------------------------------------------------ JSONL

TEST(RecordJsonl, FieldsIdsLabelsAndBlankLines) {
  RecordOptions o;
  o.id_column = "id";
  o.label_column = "gold";
  const auto rs = read_all(
      "{\"id\": 17, \"text\": \"a \\\"quoted\\\" text\", \"gold\": \"pos\"}\n"
      "   \n"
      "{\"gold\": 1, \"text\": \"b\", \"id\": \"x-2\", \"extra\": [1]}\r\n",
      RecordFormat::Jsonl, o);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].text, "a \"quoted\" text");
  EXPECT_EQ(*rs[0].id, "17");
  EXPECT_EQ(*rs[0].label, "pos");
  EXPECT_EQ(rs[1].index, 1u);
  EXPECT_EQ(rs[1].line, 3u);
  EXPECT_EQ(*rs[1].id, "x-2");
  EXPECT_EQ(*rs[1].label, "1");
  EXPECT_EQ(rs[1].error, "");
}

TEST(RecordJsonl, BadLinesBecomeRecordErrors) {
  RecordOptions o;
  o.label_column = "label";
  const auto rs = read_all(
      "{\"text\": \"fine\", \"label\": \"a\"}\n"
      "{\"text\": \"unclosed\n"
      "[1, 2]\n"
      "{\"label\": \"a\"}\n"
      "{\"text\": 5, \"label\": \"a\"}\n"
      "{\"text\": \"x\", \"label\": null}\n"
      "{\"text\": \"\", \"label\": \"a\"}\n"
      "{\"text\": \"bad \xc3\x28\", \"label\": \"a\"}\n"
      "{\"text\": \"still read after errors\", \"label\": \"b\"}\n",
      RecordFormat::Jsonl, o);
  ASSERT_EQ(rs.size(), 9u);
  EXPECT_EQ(rs[0].error, "");
  EXPECT_HAS(rs[1].error, "in:2: not valid JSON at column");
  EXPECT_EQ(rs[2].error, "in:3: expected a JSON object, found array");
  EXPECT_EQ(rs[3].error, "in:4: field \"text\" is missing");
  EXPECT_EQ(rs[4].error, "in:5: field \"text\": expected a string, found number");
  EXPECT_EQ(rs[5].error, "in:6: field \"label\": expected a string or a number, found null");
  EXPECT_EQ(rs[6].error, "in:7: empty text");
  EXPECT_HAS(rs[7].error, "in:8: line is not valid UTF-8 (bad byte at offset 14)");
  EXPECT_EQ(rs[8].error, "");
  EXPECT_EQ(rs[8].text, "still read after errors");
}

TEST(RecordJsonl, NumberPastDoubleRangeIsARowError) {
  // nlohmann throws out_of_range, not parse_error, for it (found by fuzz_records).
  const auto rs = read_all("{\"text\": \"a\", \"x\": 1e999999}\n{\"text\": \"b\"}\n", RecordFormat::Jsonl);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].error, "in:1: not valid JSON: a number is too large for a double");
  EXPECT_EQ(rs[1].error, "");
}

TEST(RecordJsonl, EmptyInputAndFixture) {
  EXPECT_TRUE(read_all("", RecordFormat::Jsonl).empty());
  EXPECT_TRUE(read_all("\n\n", RecordFormat::Jsonl).empty());
  RecordOptions o;
  o.id_column = "id";
  auto reader = RecordReader::open(CLOZE_FIXTURES "/records/reviews.jsonl", RecordFormat::Jsonl, o);
  Record r;
  ASSERT_TRUE(reader->next(r));
  EXPECT_EQ(*r.id, "7");
  ASSERT_TRUE(reader->next(r));
  EXPECT_EQ(r.text, "hated it");
  EXPECT_EQ(r.line, 3u);
  ASSERT_TRUE(reader->next(r));
  EXPECT_HAS(r.error, "reviews.jsonl:4: field \"text\": expected a string, found number");
  EXPECT_FALSE(reader->next(r));
}

// ------------------------------------------------------------------ CSV / TSV

TEST(RecordCsv, Rfc4180QuotingNewlinesCrlfAndBom) {
  RecordOptions o;
  o.id_column = "id";
  o.label_column = "label";
  auto reader = RecordReader::open(CLOZE_FIXTURES "/records/reviews.csv", RecordFormat::Csv, o);
  std::vector<Record> rs;
  Record r;
  while (reader->next(r)) rs.push_back(r);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(*rs[0].id, "1");  // BOM skipped: the first column is "id", not "\uFEFFid"
  EXPECT_EQ(rs[0].text, "Great, really great");
  EXPECT_EQ(rs[0].line, 2u);
  // A quoted field keeps its line break as written (CRLF here) and "" -> ".
  EXPECT_EQ(rs[1].text, "He said \"meh\"\r\nand left");
  EXPECT_EQ(*rs[1].label, "negative");
  EXPECT_EQ(rs[1].line, 3u);
  EXPECT_EQ(rs[2].text, "plain text");
  EXPECT_EQ(rs[2].line, 5u);
  for (const auto& x : rs) EXPECT_EQ(x.error, "");
}

TEST(RecordCsv, EmptyFieldsQuotedEmptyAndBlankLines) {
  const auto rs = read_all("a,text,b\n,x,\n\n\"\",\"y\",\"\"\n1,\"q\"z,2\n", RecordFormat::Csv);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].text, "x");
  EXPECT_EQ(rs[1].text, "y");
  EXPECT_EQ(rs[1].line, 4u);  // the blank line 3 is skipped, not a row
  EXPECT_EQ(rs[2].text, "qz");  // text after a closing quote is kept, like Python's csv
}

TEST(RecordCsv, RaggedRowsAndEmptyTextAreRecordErrors) {
  const auto rs = read_all("text,label\nok,a\ntoo,many,fields\nshort\n,b\nok again,c", RecordFormat::Csv);
  ASSERT_EQ(rs.size(), 5u);
  EXPECT_EQ(rs[0].error, "");
  EXPECT_EQ(rs[1].error, "in:3: expected 2 fields (as in the header), found 3");
  EXPECT_EQ(rs[2].error, "in:4: expected 2 fields (as in the header), found 1");
  EXPECT_EQ(rs[3].error, "in:5: empty text");
  EXPECT_EQ(rs[4].text, "ok again");
  EXPECT_EQ(rs[4].error, "");
}

TEST(RecordCsv, MissingColumnIsFatalAndListsColumns) {
  EXPECT_HAS(error_of([] { read_all("sentence,label\nx,y\n", RecordFormat::Csv); }),
             "in:1: the header has no column \"text\"; columns found: \"sentence\", \"label\"");
  RecordOptions o;
  o.label_column = "gold";
  EXPECT_HAS(error_of([&] { read_all("text,label\nx,y\n", RecordFormat::Csv, o); }),
             "no column \"gold\"; columns found: \"text\", \"label\"");
  o = {};
  o.id_column = "idx";
  EXPECT_HAS(error_of([&] { read_all("text\nx\n", RecordFormat::Csv, o); }), "no column \"idx\"");
}

TEST(RecordCsv, UnterminatedQuoteIsFatalNamingItsLine) {
  const std::string msg = error_of([] {
    read_all("text,label\nfine,a\n\"starts here\nand goes on,b\nforever,c\n", RecordFormat::Csv);
  });
  EXPECT_HAS(msg, "in:3: a quoted field starts here but its closing '\"' never comes");
  // In the header too.
  EXPECT_HAS(error_of([] { read_all("\"text\n", RecordFormat::Csv); }), "in:1: a quoted field");
}

TEST(RecordCsv, EmptyInputAndHeaderOnly) {
  EXPECT_TRUE(read_all("", RecordFormat::Csv).empty());
  EXPECT_TRUE(read_all("\xef\xbb\xbf", RecordFormat::Csv).empty());
  EXPECT_TRUE(read_all("text,label\r\n", RecordFormat::Csv).empty());
}

TEST(RecordCsv, InvalidUtf8InAField) {
  RecordOptions o;
  o.label_column = "label";
  const auto rs = read_all("text,label\nfine,p\xe9\n", RecordFormat::Csv, o);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].error, "in:2: label is not valid UTF-8 (bad byte 0xE9 at byte offset 1 of the label)");
}

TEST(RecordTsv, QuotesInsideUnquotedFieldsAreLiteral) {
  RecordOptions o;
  o.text_column = "sentence";
  o.label_column = "label";
  const auto rs = read_all(
      "sentence\tlabel\n"
      "the film 's \" twist \" works\t1\n"
      "\"quoted, with\ttab\"\t0\n"
      "a \"\"double\"\" inside\t1\n",
      RecordFormat::Tsv, o);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].text, "the film 's \" twist \" works");
  EXPECT_EQ(rs[1].text, "quoted, with\ttab");
  EXPECT_EQ(rs[2].text, "a \"\"double\"\" inside");
  EXPECT_EQ(*rs[2].label, "1");
}

TEST(RecordTsv, GlueSst2Dev) {
  RecordOptions o;
  o.label_column = "label";
  const std::string path = CLOZE_FIXTURES "/data/sst2_dev.tsv";
  auto reader = RecordReader::open(path, cloze::format_from_path(path), o);
  Record r;
  size_t n = 0, pos = 0;
  while (reader->next(r)) {
    ASSERT_EQ(r.error, "") << r.line;
    ASSERT_EQ(r.index, n);
    ASSERT_EQ(r.line, n + 2);
    ASSERT_TRUE(*r.label == "positive" || *r.label == "negative") << *r.label;
    pos += *r.label == "positive";
    ++n;
  }
  EXPECT_EQ(n, 872u);
  EXPECT_GT(pos, 0u);
  EXPECT_LT(pos, n);
}

// ------------------------------------------------------------------ opening

TEST(RecordOpen, MissingFileAndDirectoryAreFatal) {
  const std::string missing = CLOZE_FIXTURES "/records/no_such_file.csv";
  const std::string msg = error_of([&] { RecordReader::open(missing, RecordFormat::Csv); });
  EXPECT_HAS(msg, missing + ": cannot open input: No such file or directory");
  EXPECT_HAS(error_of([] { RecordReader::open(CLOZE_FIXTURES "/records", RecordFormat::Text); }),
             "it is a directory");
}

// ------------------------------------------------------------------ streaming

namespace {

// Hands out bytes one at a time and counts how many were taken, like a pipe
// whose writer is slower than its reader.
class TrickleBuf : public std::streambuf {
 public:
  explicit TrickleBuf(std::string data) : data_(std::move(data)) {}
  size_t consumed() const { return pos_ - (gptr() < egptr() ? 1 : 0); }

 protected:
  int_type underflow() override {
    if (pos_ >= data_.size()) return traits_type::eof();
    ch_ = data_[pos_++];
    setg(&ch_, &ch_, &ch_ + 1);
    return traits_type::to_int_type(ch_);
  }

 private:
  std::string data_;
  size_t pos_ = 0;
  char ch_ = 0;
};

}  // namespace

TEST(RecordStreaming, FirstRecordBeforeTheRestIsRead) {
  const std::string tail(1 << 16, 'x');
  struct Case {
    RecordFormat format;
    std::string head;  // everything the first record needs
  };
  for (const Case& c : {Case{RecordFormat::Text, "first\n"},
                        Case{RecordFormat::Jsonl, "{\"text\":\"first\"}\n"},
                        Case{RecordFormat::Csv, "text,n\r\nfirst,1\r\n"},
                        Case{RecordFormat::Tsv, "text\tn\nfirst\t1\n"}}) {
    TrickleBuf buf(c.head + tail);
    std::istream in(&buf);
    auto reader = RecordReader::from_stream(in, "pipe", c.format);
    Record r;
    ASSERT_TRUE(reader->next(r));
    EXPECT_EQ(r.text, "first");
    EXPECT_EQ(buf.consumed(), c.head.size()) << cloze::format_name(c.format);
  }
}

// ------------------------------------------------------------------ writers

namespace {

cloze::Row result_row(const std::string& text, double pos, const std::string& label = "") {
  cloze::Row r;
  r["id"] = 1;
  r["text"] = text;
  r["label"] = label.empty() ? (pos >= 0.5 ? "positive" : "negative") : label;
  r["probs"] = {{"positive", pos}, {"negative", 1 - pos}};
  return r;
}

}  // namespace

TEST(RecordWriterJsonl, KeysInOrderFlushedPerRowAndFloatsRoundTrip) {
  std::ostringstream out;
  auto w = cloze::RecordWriter::create(out, cloze::OutputFormat::Jsonl);
  const double values[] = {0.1, 1.0 / 3, 1e-300, double(0.73f), 0.9999999999999999};
  for (double v : values) {
    const size_t before = out.str().size();
    w->write(result_row("t", v));
    EXPECT_GT(out.str().size(), before);  // written now, not buffered until the end
  }
  w->finish();
  std::istringstream in(out.str());
  std::string line;
  size_t i = 0;
  while (std::getline(in, line)) {
    if (i == 0) {
      EXPECT_EQ(line.substr(0, 47), "{\"id\":1,\"text\":\"t\",\"label\":\"negative\",\"probs\":{");
    }
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["probs"]["positive"].get<double>(), values[i]) << line;
    ++i;
  }
  EXPECT_EQ(i, std::size(values));
}

TEST(RecordWriterCsv, FlattensQuotesAndKeepsHeaderColumns) {
  std::ostringstream out;
  auto w = cloze::RecordWriter::create(out, cloze::OutputFormat::Csv);
  w->write(result_row("plain", 0.75));
  w->write(result_row("with, comma and \"quotes\"\nand a newline", 0.25));
  cloze::Row partial;  // missing columns are left empty; null is empty
  partial["text"] = "only text";
  partial["label"] = nullptr;
  w->write(partial);
  w->finish();
  EXPECT_EQ(out.str(),
            "id,text,label,probs.positive,probs.negative\n"
            "1,plain,positive,0.75,0.25\n"
            "1,\"with, comma and \"\"quotes\"\"\nand a newline\",negative,0.25,0.75\n"
            ",only text,,,\n");
  cloze::Row stray;
  stray["unknown"] = 1;
  EXPECT_THROW(w->write(stray), std::logic_error);
  EXPECT_THROW(w->write(cloze::Row::array()), std::logic_error);

  // What it writes, the CSV reader reads back.
  std::istringstream back(out.str());
  auto reader = RecordReader::from_stream(back, "back", RecordFormat::Csv);
  Record r;
  ASSERT_TRUE(reader->next(r));
  ASSERT_TRUE(reader->next(r));
  EXPECT_EQ(r.text, "with, comma and \"quotes\"\nand a newline");
}

TEST(RecordWriterCsv, ExplicitColumnsAndHeaderWithoutRows) {
  cloze::WriterOptions o;
  o.columns = {"text", "error"};
  std::ostringstream out;
  auto w = cloze::RecordWriter::create(out, cloze::OutputFormat::Csv, o);
  w->finish();
  EXPECT_EQ(out.str(), "text,error\n");
}

TEST(RecordWriterTable, AlignsTruncatesAndRightAlignsNumbers) {
  cloze::WriterOptions o;
  o.max_width = 12;
  o.widths["label"] = 8;
  std::ostringstream out;
  auto w = cloze::RecordWriter::create(out, cloze::OutputFormat::Table, o);
  cloze::Row a;
  a["text"] = "short";
  a["label"] = "positive";
  a["probs"] = {{"positive", 0.5}};
  w->write(a);
  cloze::Row b;
  b["text"] = "caf\xc3\xa9 with a much longer\ntext";
  b["label"] = "neg";
  b["probs"] = {{"positive", 0.0312}};
  w->write(b);
  w->finish();
  // Widths: text = max(header 4, first value 5) = 5; label from the hint;
  // probs.positive = its header (14; headers are never cut, values are cut at
  // max_width). Long text is cut to 4 code points + "…", numbers never.
  const std::string expected =
      "text   label     probs.positive\n"
      "-----  --------  --------------\n"
      "short  positive          0.5000\n"
      "caf\xc3\xa9\xe2\x80\xa6  neg               0.0312\n";
  EXPECT_EQ(out.str(), expected);
}
