#include "core/point_names.h"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace errata {
namespace {

TEST(PointNamesTest, EqualNamesShareOneCopy) {
  PointNames a("verb-tense", "Grammar", "Verb Tense");
  PointNames b(std::string("verb-") + "tense", "Grammar", "Verb Tense");
  EXPECT_EQ(&a.subcategory_id(), &b.subcategory_id());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.category(), "Grammar");
  EXPECT_EQ(a.subcategory(), "Verb Tense");
}

TEST(PointNamesTest, AnyDifferentNameIsAnotherCopy) {
  PointNames a("verb-tense", "Grammar", "Verb Tense");
  for (const PointNames& other : {PointNames("verb-tenses", "Grammar", "Verb Tense"),
                                  PointNames("verb-tense", "Grammar ", "Verb Tense"),
                                  PointNames("verb-tense", "Grammar", "Verb tense"),
                                  // the boundaries between the names count
                                  PointNames("verb-tenseG", "rammar", "Verb Tense")}) {
    EXPECT_NE(&a.subcategory_id(), &other.subcategory_id());
    EXPECT_FALSE(a == other);
  }
}

TEST(PointNamesTest, DefaultIsEmptyAndEqualToInternedEmptyNames) {
  PointNames none;
  EXPECT_EQ(none.subcategory_id(), "");
  EXPECT_EQ(none.category(), "");
  EXPECT_EQ(none.subcategory(), "");
  EXPECT_EQ(none, PointNames("", "", ""));
}

TEST(PointNamesTest, NamesNothingRefersToAreDroppedAndHeldOnesKept) {
  PointNames held("held-for-the-test", "Grammar", "Held");
  const std::string* held_id = &held.subcategory_id();
  const size_t before = PointNames::Interned();
  for (int i = 0; i < 100'000; ++i) {
    PointNames gone("transient-" + std::to_string(i), "Open", "Transient");
  }
  // Without the sweep the table would hold the 100,000 transient names.
  EXPECT_LT(PointNames::Interned(), before + 5'000);
  EXPECT_EQ(held.subcategory_id(), "held-for-the-test");
  EXPECT_EQ(&PointNames("held-for-the-test", "Grammar", "Held").subcategory_id(), held_id);
}

TEST(PointNamesTest, ConcurrentInterningAgreesOnOneCopy) {
  std::vector<PointNames> got(2 * 2000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&got, t] {
      for (int i = 0; i < 2000; ++i) {
        got[t * 2000 + i] = PointNames("c-" + std::to_string(i), "Grammar", "Concurrent");
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 2000; ++i) {
    EXPECT_EQ(&got[i].subcategory_id(), &got[2000 + i].subcategory_id()) << i;
    EXPECT_EQ(got[i].subcategory_id(), "c-" + std::to_string(i));
  }
}

}  // namespace
}  // namespace errata
