// Pareto fronts and the Student-t quantile of the reports' confidence intervals.
#include <cmath>

#include "xbarsweep/report/table.hpp"

namespace xbarsweep::report {

std::vector<Objective> parse_objectives(const std::string& text) {
  std::vector<Objective> out;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    const std::string item = text.substr(begin, end - begin);
    const std::size_t colon = item.rfind(':');
    const std::string metric = colon == std::string::npos ? item : item.substr(0, colon);
    const std::string sense = colon == std::string::npos ? "" : item.substr(colon + 1);
    XBARSWEEP_THROW_IF(
        metric.empty() || (sense != "max" && sense != "min"), ReportError,
        "objective '" << item << "' in '" << text << "'; expected metric:max or metric:min, comma-separated");
    out.push_back({metric, sense == "max"});
    begin = end + 1;
  }
  return out;
}

std::vector<std::size_t> pareto_front(const std::vector<std::vector<double>>& values,
                                      const std::vector<Objective>& objectives) {
  // Each objective as "larger is better".
  std::vector<std::vector<double>> v = values;
  for (auto& row : v)
    for (std::size_t k = 0; k < objectives.size(); ++k)
      if (!objectives[k].maximise) row[k] = -row[k];
  const auto has_nan = [](const std::vector<double>& row) {
    for (double x : row)
      if (std::isnan(x)) return true;
    return false;
  };
  // b dominates a: at least as good everywhere, better somewhere.
  const auto dominates = [](const std::vector<double>& b, const std::vector<double>& a) {
    bool better = false;
    for (std::size_t k = 0; k < a.size(); ++k) {
      if (b[k] < a[k]) return false;
      better = better || b[k] > a[k];
    }
    return better;
  };
  std::vector<std::size_t> front;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (has_nan(v[i])) continue;
    bool dominated = false;
    for (std::size_t j = 0; j < v.size() && !dominated; ++j)
      dominated = j != i && !has_nan(v[j]) && dominates(v[j], v[i]);
    if (!dominated) front.push_back(i);
  }
  return front;
}

double student_t_975(std::int64_t dof) {
  XBARSWEEP_THROW_IF(dof < 1, ReportError, "a confidence interval needs >= 1 degree of freedom, got " << dof);
  // Exact quantiles for small samples (the ones repeats over seeds have)...
  static constexpr double kTable[] = {
      12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851, 2.364624252, 2.306004135,
      2.262157163,  2.228138852, 2.200985160, 2.178812830, 2.160368656, 2.144786688, 2.131449546, 2.119905299,
      2.109815578,  2.100922040, 2.093024054, 2.085963447, 2.079613845, 2.073873068, 2.068657610, 2.063898562,
      2.059538553,  2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456};
  if (dof <= 30) return kTable[dof - 1];
  // ... and beyond, the Cornish-Fisher expansion around the normal quantile (Abramowitz & Stegun
  // 26.7.5), within 2e-6 of the exact value from 30 degrees of freedom on.
  const double z = 1.959963984540054, n = static_cast<double>(dof);
  const double g1 = (z * z * z + z) / 4.0;
  const double g2 = (5 * std::pow(z, 5) + 16 * std::pow(z, 3) + 3 * z) / 96.0;
  const double g3 = (3 * std::pow(z, 7) + 19 * std::pow(z, 5) + 17 * std::pow(z, 3) - 15 * z) / 384.0;
  return z + g1 / n + g2 / (n * n) + g3 / (n * n * n);
}

}  // namespace xbarsweep::report
