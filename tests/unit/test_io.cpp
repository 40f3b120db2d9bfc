// Unit tests of io.cpp and cli.cpp: output patterns, shards, atomic output, list files, option parsing.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "cli.h"
#include "scvae/error.h"
#include "scvae/io.h"

using namespace scvae;

namespace {
std::string temp_dir() {
    char tmpl[] = "/tmp/scvae-io-XXXXXX";
    const char* d = mkdtemp(tmpl);
    if (!d) std::abort();
    return d;
}
bool exists(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0;
}
int count_entries(const std::string& dir) {
    std::string cmd = "ls -A '" + dir + "' | wc -l";
    FILE* p = popen(cmd.c_str(), "r");
    int n = -1;
    if (std::fscanf(p, "%d", &n) != 1) n = -1;
    pclose(p);
    return n;
}
}  // namespace

TEST(Pattern, Placeholders) {
    EXPECT_EQ(expand_pattern("out/{stem}.png", "photos/cat.jpg", 3), "out/cat.png");
    EXPECT_EQ(expand_pattern("{name}.png", "photos/cat.jpg", 3), "cat.jpg.png");
    EXPECT_EQ(expand_pattern("f-{index}.png", "a.png", 7), "f-7.png");
    EXPECT_EQ(expand_pattern("f-{index:04}.png", "a.png", 7), "f-0007.png");
    EXPECT_EQ(expand_pattern("f-{n}.png", "a.png", 7), "f-8.png");
    EXPECT_EQ(expand_pattern("f-%03d.png", "a.png", 7), "f-007.png");
    EXPECT_EQ(expand_pattern("100%%-{stem}.png", "a.b.png", 0), "100%-a.b.png");
    EXPECT_EQ(expand_pattern("{stem}.png", "-", 0), "stdin.png");
    EXPECT_EQ(expand_pattern("plain.png", "a.png", 5), "plain.png");
}

TEST(Pattern, Detection) {
    EXPECT_TRUE(pattern_has_placeholder("{stem}.png"));
    EXPECT_TRUE(pattern_has_placeholder("x-{index:3}.png"));
    EXPECT_TRUE(pattern_has_placeholder("x-%04d.png"));
    EXPECT_FALSE(pattern_has_placeholder("x.png"));
    EXPECT_FALSE(pattern_has_placeholder("100%%.png"));
}

TEST(Shard, Parse) {
    Shard s = parse_shard("2/5");
    EXPECT_EQ(s.index, 2);
    EXPECT_EQ(s.count, 5);
    for (const char* bad : {"5/5", "-1/3", "1", "a/b", "1/0", "1/2x", ""})
        EXPECT_THROW(parse_shard(bad), UsageError) << bad;
}

TEST(AtomicOutput, CommitRenamesIntoPlace) {
    std::string dir = temp_dir();
    std::string path = dir + "/out.bin";
    {
        AtomicOutput out(path);
        out.write("hello", 5);
        EXPECT_FALSE(exists(path));  // not visible before commit
        out.commit();
    }
    std::ifstream in(path);
    std::string s;
    in >> s;
    EXPECT_EQ(s, "hello");
    EXPECT_EQ(count_entries(dir), 1);
}

TEST(AtomicOutput, NoCommitLeavesNothingAndKeepsOldFile) {
    std::string dir = temp_dir();
    std::string path = dir + "/keep.txt";
    { std::ofstream(path) << "old"; }
    {
        AtomicOutput out(path);
        out.write("new", 3);
        // destroyed without commit: an error happened
    }
    std::ifstream in(path);
    std::string s;
    in >> s;
    EXPECT_EQ(s, "old");
    EXPECT_EQ(count_entries(dir), 1);
}

// An output pattern such as 'rec/{stem}.png' names folders that need not exist yet: they are created.
TEST(AtomicOutput, MissingFoldersAreCreated) {
    const std::string dir = temp_dir();
    const std::string path = dir + "/rec/deep/x.png";
    AtomicOutput out(path);
    out.write("png", 3);
    out.commit();
    EXPECT_TRUE(exists(path));
    EXPECT_EQ(count_entries(dir + "/rec/deep"), 1);
}

TEST(AtomicOutput, UncreatableFolderIsAClearError) {
    const std::string dir = temp_dir();
    std::ofstream(dir + "/file") << "x";
    const std::string path = dir + "/file/sub/x.png";  // "file" is not a folder
    try {
        AtomicOutput out(path);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), path + ": cannot create: Not a directory");
    }
}

TEST(InputFile, MissingFile) {
    try {
        InputFile in("/nonexistent-file.scv");
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "/nonexistent-file.scv: cannot open: No such file or directory");
    }
}

TEST(ListFile, SkipsBlankAndComments) {
    std::string dir = temp_dir();
    std::string path = dir + "/list.txt";
    { std::ofstream(path) << "# header\na.png\n\nb c.jpg\r\n#x\n"; }
    auto v = read_list_file(path);
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0], "a.png");
    EXPECT_EQ(v[1], "b c.jpg");
}

TEST(Cli, IntAndDoubleOptions) {
    EXPECT_EQ(parse_int_option("--threads", "4", 1, 8), 4);
    EXPECT_THROW(parse_int_option("--threads", "0", 1, 8), UsageError);
    EXPECT_THROW(parse_int_option("--threads", "9", 1, 8), UsageError);
    EXPECT_THROW(parse_int_option("--threads", "2x", 1, 8), UsageError);
    EXPECT_THROW(parse_int_option("--threads", "", 1, 8), UsageError);
    EXPECT_DOUBLE_EQ(parse_double_option("--noise", "0.25"), 0.25);
    EXPECT_THROW(parse_double_option("--noise", "nan"), UsageError);
    EXPECT_THROW(parse_double_option("--noise", "abc"), UsageError);
}

TEST(Cli, RunToolMapsErrorsToExitCodes) {
    char arg0[] = "t";
    char* argv[] = {arg0, nullptr};
    EXPECT_EQ(run_tool("t", 1, argv, [](int, char**) { return 0; }), 0);
    EXPECT_EQ(run_tool("t", 1, argv, [](int, char**) -> int { throw Error("x: bad"); }), 1);
    EXPECT_EQ(run_tool("t", 1, argv, [](int, char**) -> int { throw UsageError("bad option"); }), 2);
    EXPECT_EQ(run_tool("t", 1, argv, [](int, char**) -> int { throw std::runtime_error("boom"); }), 1);
    EXPECT_EQ(tool_name(), "t");
}

TEST(Cpus, AtLeastOne) { EXPECT_GE(available_cpus(), 1); }
