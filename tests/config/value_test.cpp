#include "xbarsweep/config/value.hpp"

#include <gtest/gtest.h>

#include <set>

#include "xbarsweep/error.hpp"

namespace xbarsweep::config {
namespace {

TEST(Value, CanonicalTextDistinguishesTypes) {
  EXPECT_EQ(canonical(Value{std::int64_t{1}}), "1");
  EXPECT_EQ(canonical(Value{std::string("1")}), "\"1\"");
  EXPECT_EQ(canonical(Value{true}), "true");
  EXPECT_EQ(canonical(Value{std::string("true")}), "\"true\"");
  EXPECT_EQ(canonical(Value{0.1}), "0.10000000000000001");
  EXPECT_EQ(canonical(Value{-0.0}), canonical(Value{0.0}));
  EXPECT_EQ(canonical(Value{std::string("a\"b\\c\n")}), "\"a\\\"b\\\\c\\n\"");
}

TEST(Value, DisplayIsShort) {
  EXPECT_EQ(display(Value{0.1}), "0.1");
  EXPECT_EQ(display(Value{std::string("mlp")}), "mlp");
  EXPECT_EQ(display(Value{std::int64_t{-7}}), "-7");
}

TEST(Value, TypeNames) {
  EXPECT_EQ(type_name(type_of(Value{false})), "bool");
  EXPECT_EQ(type_name(type_of(Value{std::int64_t{2}})), "int");
  EXPECT_EQ(type_name(type_of(Value{2.0})), "real");
  EXPECT_EQ(type_name(type_of(Value{std::string()})), "string");
}

TEST(Params, TypedGetters) {
  Params p;
  p.set("train.lr", 0.5);
  p.set("train.epochs", std::int64_t{3});
  p.set("model.name", std::string("mlp"));
  p.set("unit.flag", true);
  EXPECT_DOUBLE_EQ(p.real("train.lr"), 0.5);
  EXPECT_DOUBLE_EQ(p.real("train.epochs"), 3.0);  // an int where a real is asked for
  EXPECT_EQ(p.integer("train.epochs"), 3);
  EXPECT_EQ(p.text("model.name"), "mlp");
  EXPECT_TRUE(p.boolean("unit.flag"));
  EXPECT_THROW(p.integer("train.lr"), xbarsweep::InternalError);
  EXPECT_THROW(p.real("absent"), xbarsweep::InternalError);
  try {
    p.text("train.lr");
    FAIL();
  } catch (const xbarsweep::InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("train.lr"), std::string::npos);
  }
}

TEST(Params, CanonicalTextIsSortedAndOrderFree) {
  Params a, b;
  a.set("z", std::int64_t{1});
  a.set("a", 0.25);
  b.set("a", 0.25);
  b.set("z", std::int64_t{1});
  EXPECT_EQ(a.canonical_text(), "a=0.25\nz=1\n");
  EXPECT_EQ(a.canonical_text(), b.canonical_text());
  EXPECT_EQ(point_id(a), point_id(b));
}

TEST(PointId, StableAndDistinct) {
  Params empty;
  // FNV-1a 64 of the empty string is its offset basis.
  EXPECT_EQ(point_id(empty), "cbf29ce484222325");
  Params p;
  p.set("seed", std::int64_t{1});
  const std::string id = point_id(p);
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);

  Params as_string;
  as_string.set("seed", std::string("1"));
  EXPECT_NE(point_id(as_string), id);

  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) {
    Params q;
    q.set("train.lr", 1e-4 * i);
    ids.insert(point_id(q));
  }
  EXPECT_EQ(ids.size(), 10000u);
}

}  // namespace
}  // namespace xbarsweep::config
