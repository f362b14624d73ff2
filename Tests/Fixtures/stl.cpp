// An ordinary C++ program: containers, strings, shared_ptr, exceptions, iostreams.
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

int main()
{
    std::vector<std::string> words;
    for (int i = 0; i < 5000; i++) words.push_back("word" + std::to_string(i % 97));
    std::map<std::string, int> counts;
    std::unordered_map<int, std::shared_ptr<std::vector<int>>> buckets;
    for (const auto &w : words) counts[w]++;
    for (int i = 0; i < 1000; i++) {
        auto &b = buckets[i % 31];
        if (!b) b = std::make_shared<std::vector<int>>();
        b->push_back(i);
    }
    int caught = 0;
    for (int i = 0; i < 100; i++) {
        try { throw std::runtime_error("boom " + std::to_string(i)); }
        catch (const std::exception &e) { caught += e.what()[0] == 'b'; }
    }
    std::ostringstream out;
    out << counts.size() << " words, " << buckets.size() << " buckets, " << caught << " caught";
    std::cout << out.str() << std::endl;
    return 0;
}
